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
