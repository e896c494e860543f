"""Music-like example clips that trackscope synthesises itself (for ``trackscope demo`` and the tests).

Each style puts a clear, audible character into a few seconds of audio: tempo, register, brightness, harmony
(major/minor/dissonant) and dynamics, the cues that separate Russell's quadrants. They are made up, not real music;
their only job is to show the pipeline end to end without shipping anyone's recordings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SR = 22_050

# style → (bpm, root MIDI note, chord intervals, brightness 0..1, drum level, noise level, level)
STYLES: dict[str, tuple[float, int, tuple[int, ...], float, float, float, float]] = {
    "energetic": (128.0, 64, (0, 4, 7, 12), 0.8, 0.9, 0.02, 0.5),  # fast, bright, major, loud drums
    "tense": (150.0, 40, (0, 1, 6, 7), 1.0, 0.8, 0.35, 0.7),  # fast, dissonant, distorted, noisy
    "dark": (60.0, 36, (0, 3, 7), 0.1, 0.0, 0.0, 0.25),  # slow, low, minor, dull
    "calm": (70.0, 60, (0, 4, 7, 11), 0.25, 0.1, 0.0, 0.15),  # slow, soft, major seventh
}


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def style_clip(style: str, seconds: float = 8.0, *, sr: int = SR, seed: int = 0) -> Any:
    """A mono float32 clip of ``seconds`` in one of :data:`STYLES`."""
    import numpy as np

    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose from {', '.join(STYLES)}")
    bpm, root, chord, bright, drums, noise_level, level = STYLES[style]
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n, dtype=np.float64) / sr
    y = np.zeros(n)
    beat = 60.0 / bpm
    bar = 4 * beat
    # Harmony: the chord on the root, moving by a fourth every other bar.
    n_harm = 1 + int(round(bright * 6))
    for b in range(int(np.ceil(seconds / bar))):
        start, stop = int(b * bar * sr), min(n, int((b + 1) * bar * sr))
        shift = (0, 5, 7, 5)[b % 4] if style in ("energetic", "calm") else (0, 0, 1, 0)[b % 4]
        seg = t[start:stop] - t[start]
        env = np.minimum(1.0, seg / 0.02) * np.exp(-seg * (0.5 if bright < 0.5 else 1.5))
        for iv in chord:
            f0 = _hz(root + shift + iv) * (1 + rng.normal(0, 0.001))
            for h in range(1, n_harm + 1):
                y[start:stop] += env * np.sin(2 * np.pi * f0 * h * seg) / h**1.2 * 0.15
    # Drums: kick on every beat, hats on off-beats.
    if drums > 0:
        for k in range(int(seconds / beat)):
            s = int(k * beat * sr)
            m = min(n - s, int(0.15 * sr))
            tt = np.arange(m) / sr
            y[s : s + m] += drums * np.sin(2 * np.pi * (50 + 80 * np.exp(-tt * 30)) * tt) * np.exp(-tt * 25)
            h = s + int(beat / 2 * sr)
            if h < n:
                m2 = min(n - h, int(0.05 * sr))
                y[h : h + m2] += drums * 0.3 * rng.normal(0, 1, m2) * np.exp(-np.arange(m2) / sr * 80)
    if noise_level > 0:
        y += noise_level * rng.normal(0, 1, n) * (0.5 + 0.5 * np.sign(np.sin(2 * np.pi * t / beat)))
    if style == "tense":
        y = np.tanh(3.0 * y)  # distortion
    y = y / (np.max(np.abs(y)) + 1e-9) * level
    return y.astype(np.float32)


def write_wav(path: str | Path, y: Any, sr: int = SR) -> Path:
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr, subtype="PCM_16")
    return path


def write_examples(folder: str | Path, *, seconds: float = 12.0, long_song: bool = True, seed: int = 0) -> list[Path]:
    """Write one clip per style, plus (``long_song``) a 75-s song that goes calm → energetic → dark."""
    import numpy as np

    folder = Path(folder)
    paths = [
        write_wav(folder / f"example-{style}.wav", style_clip(style, seconds, seed=seed + i))
        for i, style in enumerate(STYLES)
    ]
    if long_song:
        parts = [
            style_clip("calm", 30.0, seed=seed + 10),
            style_clip("energetic", 30.0, seed=seed + 11),
            style_clip("dark", 15.0, seed=seed + 12),
        ]
        paths.append(write_wav(folder / "example-long-song.wav", np.concatenate(parts)))
    return paths
