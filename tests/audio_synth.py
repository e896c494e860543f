"""Synthetic audio for tests (no real recordings in tests): tones, click tracks, chord progressions, noise, and a
writer. Other test modules may import these (``from audio_synth import click_track``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SR = 22_050

# Equal-tempered pitch of MIDI note m: 440 · 2^((m - 69) / 12).
NOTE = {"C": 60, "C#": 61, "D": 62, "D#": 63, "E": 64, "F": 65, "F#": 66, "G": 67, "G#": 68, "A": 69, "A#": 70, "B": 71}


def midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69) / 12.0)


def sine(
    freq: float = 440.0, seconds: float = 3.0, *, sr: int = SR, amp: float = 0.5, phase: float = 0.0
) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def noise(seconds: float = 3.0, *, sr: int = SR, amp: float = 0.1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (amp * rng.standard_normal(int(round(seconds * sr)))).astype(np.float32)


def click_track(bpm: float = 120.0, seconds: float = 20.0, *, sr: int = SR, accent: bool = True) -> np.ndarray:
    """Short decaying noise bursts + a low thump on every beat (accented downbeat every 4)."""
    n = int(round(seconds * sr))
    y = np.zeros(n, dtype=np.float32)
    rng = np.random.default_rng(1)
    length = int(0.03 * sr)
    env = np.exp(-np.arange(length) / (0.006 * sr))
    burst = (rng.standard_normal(length) * env).astype(np.float32)
    thump = (np.sin(2 * np.pi * 60 * np.arange(length) / sr) * env).astype(np.float32)
    period = 60.0 / bpm
    k = 0
    while True:
        start = int(round(k * period * sr))
        if start >= n:
            break
        gain = 0.8 if (accent and k % 4 == 0) else 0.5
        end = min(n, start + length)
        y[start:end] += gain * (burst[: end - start] + thump[: end - start])
        k += 1
    return y


def chord(notes: list[int], seconds: float, *, sr: int = SR, amp: float = 0.2) -> np.ndarray:
    """Notes (MIDI numbers) with a few decaying harmonics and a soft attack/release."""
    t = np.arange(int(round(seconds * sr))) / sr
    y = np.zeros_like(t)
    for m in notes:
        f = midi_hz(m)
        for h, a in ((1, 1.0), (2, 0.4), (3, 0.2), (4, 0.1)):
            if f * h < sr / 2:
                y += a * np.sin(2 * np.pi * f * h * t)
    ramp = min(len(t) // 4, int(0.02 * sr))
    env = np.ones_like(t)
    env[:ramp] = np.linspace(0, 1, ramp)
    env[-ramp:] = np.linspace(1, 0, ramp)
    return (amp * y * env / len(notes)).astype(np.float32)


def c_major_progression(*, sr: int = SR, bar: float = 1.0, repeats: int = 3) -> np.ndarray:
    """I–IV–V–I in C major (C E G, F A C, G B D, C E G), each chord ``bar`` seconds."""
    chords = [[48, 60, 64, 67], [53, 60, 65, 69], [55, 59, 62, 67], [48, 60, 64, 67]]
    return np.concatenate([chord(c, bar, sr=sr) for _ in range(repeats) for c in chords])


def a_minor_progression(*, sr: int = SR, bar: float = 1.0, repeats: int = 3) -> np.ndarray:
    """i–iv–V–i in A minor (A C E, D F A, E G# B, A C E)."""
    chords = [[45, 57, 60, 64], [50, 57, 62, 65], [52, 56, 59, 64], [45, 57, 60, 64]]
    return np.concatenate([chord(c, bar, sr=sr) for _ in range(repeats) for c in chords])


def music_like(seconds: float = 10.0, *, sr: int = SR, bpm: float = 120.0, seed: int = 0) -> np.ndarray:
    """Chords + clicks + a little noise: exercises every descriptor."""
    n = int(round(seconds * sr))
    harm = c_major_progression(sr=sr, repeats=int(np.ceil(seconds / 4)) + 1)[:n]
    y = harm + 0.3 * click_track(bpm, seconds, sr=sr)[:n] + noise(seconds, sr=sr, amp=0.01, seed=seed)[:n]
    return y.astype(np.float32)


def write(path: str | Path, y: np.ndarray, sr: int = SR, **kwargs) -> Path:
    """Write with soundfile (libsndfile 1.2 writes MP3 too); format from the suffix unless given."""
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr, **kwargs)
    return path


def bad_input_corpus(folder: str | Path) -> dict[str, Path]:
    """The robustness corpus: every kind of file people drop on trackscope. Returns name → path.

    Valid: ``short_ok`` (1 s), ``silence``, ``hires_6ch`` (96 kHz, 6 channels), ``unicode`` (spaces + non-ASCII
    path), ``long_20min`` (20 minutes at 2 kHz: cheap), ``mp3``, ``ogg``, ``flac``.
    Invalid: ``empty`` (0 bytes), ``truncated_mp3``, ``text_mp3``, ``too_short`` (0.2 s), ``nan_wav``, ``folder_mp3``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    y = music_like(4.0)
    out["mp3"] = write(folder / "ok.mp3", np.stack([y, y], 1), format="MP3")
    out["ogg"] = write(folder / "ok.ogg", y, format="OGG", subtype="VORBIS")
    out["flac"] = write(folder / "ok.flac", y)
    out["short_ok"] = write(folder / "one_second.wav", sine(440, 1.0))
    out["silence"] = write(folder / "silence.wav", np.zeros(3 * SR, dtype=np.float32))
    six = np.stack([sine(220 * (c + 1), 1.0, sr=96_000, amp=0.2) for c in range(6)], 1)
    out["hires_6ch"] = write(folder / "hires_96k_6ch.wav", six, 96_000, subtype="FLOAT")
    out["unicode"] = write(folder / "dir with spaces" / "Motörhead – Ça va déjà.flac", sine(330, 2.0))
    long_sr = 2_000
    tone = sine(200, 20 * 60, sr=long_sr, amp=0.1)
    tone[: len(tone) // 2] = 0.0  # silence + tone
    out["long_20min"] = write(folder / "long_20min.wav", tone, long_sr, subtype="PCM_16")
    empty = folder / "empty.mp3"
    empty.write_bytes(b"")
    out["empty"] = empty
    full = out["mp3"].read_bytes()
    trunc = folder / "truncated.mp3"
    trunc.write_bytes(full[: len(full) // 3])
    out["truncated_mp3"] = trunc
    text = folder / "notes.mp3"
    text.write_text("this is a text file, not an mp3\n" * 40)
    out["text_mp3"] = text
    out["too_short"] = write(folder / "blip.wav", sine(440, 0.2))
    bad = sine(440, 1.0)
    bad[100:110] = np.nan
    out["nan_wav"] = write(folder / "nan.wav", bad, subtype="FLOAT")
    d = folder / "song.mp3"
    d.mkdir(exist_ok=True)
    out["folder_mp3"] = d
    return out


BAD_REASONS = {
    "empty": "empty file",
    "truncated_mp3": "truncated",
    "text_mp3": "not an audio file",
    "too_short": "too short",
    "nan_wav": "NaN",
    "folder_mp3": "folder",
}


def drum_pattern(bpm: float = 120.0, seconds: float = 20.0, *, sr: int = SR, swing: bool = False, seed: int = 0):
    """A pop backbeat: kick on beats 1 and 3, snare on 2 and 4, hi-hats on eighth notes (swung: at 2/3 of the
    beat), over the C-major progression."""
    n = int(round(seconds * sr))
    y = np.zeros(n, dtype=np.float32)
    rng = np.random.default_rng(seed)
    length = int(0.12 * sr)
    tt = np.arange(length) / sr
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-tt * 30)) * tt) * np.exp(-tt * 20)
    snare = rng.standard_normal(length) * np.exp(-tt * 25) * 0.7 + np.sin(2 * np.pi * 200 * tt) * np.exp(-tt * 30) * 0.3
    hat = rng.standard_normal(length) * np.exp(-tt * 80) * 0.3

    def hit(t: float, x: np.ndarray, gain: float) -> None:
        s = int(t * sr)
        if s < n:
            e = min(n, s + length)
            y[s:e] += (gain * x[: e - s]).astype(np.float32)

    beat = 60.0 / bpm
    k = 0
    while k * beat < seconds:
        hit(k * beat, kick if k % 2 == 0 else snare, 0.8)
        hit(k * beat, hat, 0.5)
        hit(k * beat + beat * (2 / 3 if swing else 0.5), hat, 0.4)
        k += 1
    harm = c_major_progression(sr=sr, repeats=int(seconds / 4) + 1)[:n]
    return (y + 0.5 * harm).astype(np.float32)
