"""Generated music-like clips with a planted "hit" cue — proof that the audio path can learn.

No real audio with popularity labels exists offline, so the audio networks are checked on clips made here: every clip
has a random tempo, a kick drum on the beats, hi-hats on random eighths, a chord pad that changes every bar, a random
melody and background noise at a random level. "Popular" clips (label 1) additionally carry the planted cue: a bright
bell-like tone (a fixed pitch, :data:`CUE_HZ`) struck on a steady pulse of :data:`CUE_RATE_HZ`, mixed below the music.
Half of the unpopular clips carry a decoy — the same kind of bell at another pitch struck at random times — so a
network cannot just look for "any bell"; it has to find the cue's band and rhythm.

A network that reaches a high ROC-AUC on held-out generated clips has learnt a time–frequency pattern; a dummy
(constant) model sits at exactly 0.5.
"""

from __future__ import annotations

import numpy as np

CUE_HZ = 2637.0  # E7: above most of the generated harmony, inside the 128-mel range at 22.05 kHz
CUE_RATE_HZ = 5.0  # strikes per second, independent of the clip's tempo
CUE_LEVEL = (0.10, 0.25)  # bell amplitude range (the chord pad's notes are 0.15 each, the melody 0.2)


def _tone(freq: float, n: int, sr: int, partials: int = 4, decay: float = 0.0) -> np.ndarray:
    t = np.arange(n) / sr
    out = np.zeros(n)
    for k in range(1, partials + 1):
        if freq * k < sr / 2:
            out += np.sin(2 * np.pi * freq * k * t) / k
    if decay:
        out *= np.exp(-t * decay)
    return out


def _add(y: np.ndarray, x: np.ndarray, at: int) -> None:
    end = min(len(y), at + len(x))
    if at < end:
        y[at:end] += x[: end - at]


def _bell(freq: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.08 * sr)
    return _tone(freq, n, sr, partials=2, decay=40.0 + 10 * rng.random())


def clip(
    label: int,
    *,
    duration: float = 4.0,
    sr: int = 22_050,
    rng: np.random.Generator,
    cue_level: tuple[float, float] = CUE_LEVEL,
) -> np.ndarray:
    """One generated clip (float32 mono, peak ≤ 0.9); ``label=1`` carries the planted cue at ``cue_level``."""
    n = int(round(duration * sr))
    y = np.zeros(n)
    bpm = rng.uniform(80, 160)
    beat = int(sr * 60 / bpm)
    # Kick: a falling sine on every beat.
    kick_len = int(0.15 * sr)
    tk = np.arange(kick_len) / sr
    kick = np.sin(2 * np.pi * (120 * tk - 200 * tk**2)) * np.exp(-tk * 30)
    for at in range(int(rng.integers(0, beat)), n, beat):
        _add(y, kick * rng.uniform(0.6, 1.0), at)
    # Hi-hats: short high-passed noise bursts on random eighths.
    hat_len = int(0.03 * sr)
    for at in range(0, n, beat // 2):
        if rng.random() < 0.6:
            burst = np.diff(rng.normal(size=hat_len + 1)) * np.exp(-np.arange(hat_len) / (0.006 * sr))
            _add(y, burst * rng.uniform(0.05, 0.2), at)
    # Chord pad: three notes of a random major/minor triad per bar.
    bar = 4 * beat
    for at in range(0, n, bar):
        root = 110 * 2 ** (rng.integers(0, 24) / 12)
        third = 4 if rng.random() < 0.5 else 3
        env = np.minimum(1, np.arange(bar) / (0.05 * sr)) * np.exp(-np.arange(bar) / sr * 1.5)
        for semis in (0, third, 7):
            _add(y, _tone(root * 2 ** (semis / 12), bar, sr) * env * 0.15, at)
    # Melody: random notes on random eighths, two octaves around A4.
    for at in range(0, n, beat // 2):
        if rng.random() < 0.5:
            f = 440 * 2 ** (rng.integers(-12, 13) / 12)
            _add(y, _tone(f, beat // 2, sr, partials=3, decay=6.0) * 0.2, at)
    # Planted cue or decoy.
    level = rng.uniform(*cue_level)
    if label == 1:
        step = int(sr / CUE_RATE_HZ)
        for at in range(int(rng.integers(0, step)), n, step):
            _add(y, _bell(CUE_HZ, sr, rng) * level, at)
    elif rng.random() < 0.5:
        f = CUE_HZ * 2 ** (rng.choice([-1, 1]) * rng.uniform(4, 9) / 12)  # 4–9 semitones away
        for at in np.sort(rng.integers(0, n, size=int(duration * CUE_RATE_HZ))):
            _add(y, _bell(f, sr, rng) * level, int(at))
    # Noise floor at a random level, then a random gain.
    y += rng.normal(size=n) * rng.uniform(0.002, 0.03)
    y = y / (np.abs(y).max() + 1e-9) * 0.9 * rng.uniform(0.3, 1.0)
    return y.astype(np.float32)


def make_clips(
    n: int, *, duration: float = 4.0, sr: int = 22_050, seed: int = 0, cue_level: tuple[float, float] = CUE_LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` clips (``(n, samples)`` float32) and their labels, exactly half popular, in random order."""
    rng = np.random.default_rng(seed)
    labels = np.array([i % 2 for i in range(n)], dtype=np.int64)
    rng.shuffle(labels)
    clips = np.stack([clip(int(lab), duration=duration, sr=sr, rng=rng, cue_level=cue_level) for lab in labels])
    return clips, labels


def write_clips(
    folder,
    n: int,
    *,
    duration: float = 4.0,
    sr: int = 22_050,
    seed: int = 0,
    score_column: str = "popularity",
    cue_level: tuple[float, float] = CUE_LEVEL,
):
    """Write ``n`` generated clips as WAV files plus ``labels.csv`` (``file, popularity``) into ``folder``.

    Popular clips get scores 60–90 and the others 5–35, so ``--threshold auto`` finds the gap between them.
    Returns the path of ``labels.csv``.
    """
    from pathlib import Path

    import soundfile as sf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clips, labels = make_clips(n, duration=duration, sr=sr, seed=seed, cue_level=cue_level)
    rng = np.random.default_rng(seed + 1)
    rows = ["file," + score_column]
    for i, (y, lab) in enumerate(zip(clips, labels, strict=True)):
        name = f"clip{i:04d}.wav"
        sf.write(folder / name, y, sr, subtype="PCM_16")
        score = int(rng.integers(60, 91)) if lab else int(rng.integers(5, 36))
        rows.append(f"{name},{score}")
    labels_csv = folder / "labels.csv"
    labels_csv.write_text("\n".join(rows) + "\n")
    return labels_csv
