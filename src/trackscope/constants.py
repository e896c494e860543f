"""Constants with meaning, each with the reason beside it."""

from __future__ import annotations

# The mood study's 10 Spotify audio features, in the study's order.
SPOTIFY_FEATURES: tuple[str, ...] = (
    "energy",
    "liveness",
    "tempo",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "danceability",
    "duration_ms",
    "loudness",
    "valence",
)

# The mood study's five classes.
MOODS: tuple[str, ...] = ("Energetic", "Relaxing", "Dark", "Aggressive", "Happy")

# The 4Q dataset's quadrants of Russell's arousal–valence plane (the classes of builtin:mood), in users' words
# (Panda et al., 2018).
QUADRANT_WORDS: dict[str, str] = {
    "Q1": "happy/energetic",
    "Q2": "aggressive/tense",
    "Q3": "sad/dark",
    "Q4": "calm/relaxing",
}
# Sign of each quadrant on (arousal, valence).
QUADRANT_AV: dict[str, tuple[float, float]] = {
    "Q1": (1.0, 1.0),
    "Q2": (1.0, -1.0),
    "Q3": (-1.0, -1.0),
    "Q4": (-1.0, 1.0),
}

# The two classes of every hit-potential model: popular means popularity >= the model's threshold.
POPULARITY_CLASSES: tuple[str, ...] = ("not popular", "popular")

# The popularity study's spectrogram front end (librosa defaults, which the study used).
SAMPLE_RATE = 22_050
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128

# Exit codes of the CLI.
EXIT_BUG = 1
EXIT_BAD_INPUT = 2

# Audio file suffixes trackscope looks for when it walks folders.
AUDIO_SUFFIXES: frozenset[str] = frozenset(
    {".mp3", ".ogg", ".oga", ".opus", ".flac", ".wav", ".wave", ".aif", ".aiff", ".m4a", ".aac", ".mp4"}
)
