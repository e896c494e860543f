"""A song's pictures for the studio: the min/max waveform envelope of the whole song and its whole mel spectrogram as
a WebP image (the same 80-dB magma picture as the report's) — from what the analysis kept of the audio it decoded
(:func:`media_from_parts`: no second decode, ~28 % of a 30-s clip's analysis before), or from one decode of their
own (:func:`song_media`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

WAVE_POINTS = 1000  # envelope points: more than a song page is wide in pixels, ~20 kB of JSON
MEL_WIDTH = 1600  # mel image columns at most (time is averaged down to fit); 128 mel bands tall
_BLOCK = 256  # samples per envelope block while decoding (a 1-h song: ~310,000 blocks)


def song_media(path: str | Path) -> dict[str, Any]:
    """``{"waveform": {"points", "lo", "hi"}, "mel_webp": bytes}``: the envelope (≤ :data:`WAVE_POINTS` min/max
    pairs, normalised so the loudest peak is ±1) and the mel spectrogram (≤ :data:`MEL_WIDTH` × 128 px), from one
    streamed pass over the audio at 22.05 kHz. Raises :class:`~trackscope.errors.AudioError` for bad audio."""
    import numpy as np

    from trackscope.audio.io import iter_windows
    from trackscope.audio.mel import melspectrogram
    from trackscope.report.analyze import MinMaxEnvelope

    sr = 22050
    env, mels = MinMaxEnvelope(_BLOCK), []
    for w in iter_windows(path, sr=sr, window=30.0):
        y = np.asarray(w.samples, dtype=np.float32)
        mels.append(melspectrogram(y, sr=sr))
        env.add(y)
    lo, hi = envelope(*env.result(), WAVE_POINTS)
    peak = max(float(np.abs(lo).max()), float(np.abs(hi).max()), 1e-9)
    waveform = {
        "points": len(lo),
        "lo": [round(float(v) / peak, 4) for v in lo],
        "hi": [round(float(v) / peak, 4) for v in hi],
    }
    mel = np.concatenate(mels, axis=1) if mels else np.zeros((128, 1), dtype=np.float32)
    return {"waveform": waveform, "mel_webp": mel_webp(mel)}


def media_from_parts(path: str | Path, parts: dict[str, Any]) -> dict[str, Any]:
    """:func:`song_media`'s result from what the analysis kept while decoding the song (``SongFeatures.extra
    ["picture"]`` with its ``mel``): the envelope blocks and the mel of the scored audio, plus the edges the window
    rule left out (at most 2.5 s at each end), decoded here, so that the pictures cover the whole song and line up
    with its player."""
    import numpy as np

    from trackscope.audio.io import load_audio
    from trackscope.audio.mel import melspectrogram
    from trackscope.features.song import ENVELOPE_HOP, reduce_frames

    sr = int(parts["sr"])
    step = int(parts.get("mel_step", 1))
    total = parts.get("total")

    def edge(offset: float, duration: float) -> tuple[list[Any], list[Any], list[Any]]:
        if duration < 0.05:  # under a few envelope blocks: nothing to see
            return [], [], []
        y = np.asarray(load_audio(path, sr=sr, offset=offset, duration=duration).samples, dtype=np.float32)
        n = max(1, -(-len(y) // ENVELOPE_HOP))
        blocks = [y[i * ENVELOPE_HOP : (i + 1) * ENVELOPE_HOP] for i in range(n)]
        lo = np.array([b.min() for b in blocks if len(b)], dtype=np.float32)
        hi = np.array([b.max() for b in blocks if len(b)], dtype=np.float32)
        return [lo], [hi], [reduce_frames(melspectrogram(y, sr=sr), step)]

    head = edge(0.0, float(parts.get("first") or 0.0))
    tail = edge(float(parts["end"]), float(total) - float(parts["end"])) if total else ([], [], [])
    lo = np.concatenate([*head[0], np.asarray(parts["lo"], dtype=np.float32), *tail[0]])
    hi = np.concatenate([*head[1], np.asarray(parts["hi"], dtype=np.float32), *tail[1]])
    lo, hi = envelope(lo, hi, WAVE_POINTS)
    peak = max(float(np.abs(lo).max()), float(np.abs(hi).max()), 1e-9)
    waveform = {
        "points": len(lo),
        "lo": [round(float(v) / peak, 4) for v in lo],
        "hi": [round(float(v) / peak, 4) for v in hi],
    }
    mel = np.concatenate([*head[2], np.asarray(parts["mel"], dtype=np.float32), *tail[2]], axis=1)
    return {"waveform": waveform, "mel_webp": mel_webp(mel)}


def _media(row: dict[str, Any], decoded: Any) -> dict[str, Any]:
    if isinstance(decoded, dict) and decoded.get("mel") is not None:
        return media_from_parts(row["path"], decoded)
    return song_media(row["path"])


def envelope(lo: Any, hi: Any, points: int) -> tuple[Any, Any]:
    """Min/max blocks merged down to at most ``points`` (a min of mins, a max of maxes: peaks survive)."""
    import numpy as np

    lo, hi = np.asarray(lo), np.asarray(hi)
    if len(lo) <= points:
        return lo, hi
    k = int(np.ceil(len(lo) / points))
    n = int(np.ceil(len(lo) / k))
    pad = n * k - len(lo)
    lo = np.concatenate([lo, np.full(pad, lo[-1])]).reshape(n, k).min(axis=1)
    hi = np.concatenate([hi, np.full(pad, hi[-1])]).reshape(n, k).max(axis=1)
    return lo, hi


def mel_webp(mel_power: Any, width: int = MEL_WIDTH) -> bytes:
    """A (bands × frames) power mel as a WebP image: time averaged down to ≤ ``width`` columns (in power), 80 dB
    below the loudest bin shown in magma, low bands at the bottom."""
    import io

    import numpy as np
    from PIL import Image

    from trackscope.report.analyze import _magma

    m = np.asarray(mel_power, dtype=np.float32)
    step = max(1, int(np.ceil(m.shape[1] / width)))
    cols = int(np.ceil(m.shape[1] / step))
    pad = cols * step - m.shape[1]
    if pad:
        m = np.concatenate([m, m[:, -1:].repeat(pad, axis=1)], axis=1)
    m = m.reshape(m.shape[0], cols, step).mean(axis=2)
    db = 10.0 * np.log10(np.maximum(m, 1e-10))
    top = float(db.max()) if db.size else 0.0
    idx = np.clip((db - (top - 80.0)) / 80.0 * 255.0, 0, 255).astype(np.uint8)[::-1]
    buf = io.BytesIO()
    Image.fromarray(_magma()[idx], mode="RGB").save(buf, format="WEBP", quality=80, method=1)
    return buf.getvalue()


def media_draw(row: dict[str, Any], classes: list[str], decoded: Any = None) -> bytes:
    """For :func:`trackscope.tasks.analyze.analyze`'s ``draw``: a worker's song media (pickled), made while it has
    the song at hand."""
    import pickle

    return pickle.dumps({"media": _media(row, decoded), "picture": None})


media_draw.mel_columns = MEL_WIDTH  # type: ignore[attr-defined]  # analyze_song keeps the song's mel for it


def media_and_picture_draw(row: dict[str, Any], classes: list[str], decoded: Any = None) -> bytes:
    """:func:`media_draw` plus the report's picture of the song (:func:`trackscope.report.analyze.song_picture`)."""
    import pickle

    from trackscope.report.analyze import song_picture

    try:
        picture = song_picture(row, classes, decoded)
    except Exception:  # noqa: BLE001 — the report draws it again (or says why it cannot)
        picture = None
    return pickle.dumps({"media": _media(row, decoded), "picture": picture})


media_and_picture_draw.mel_columns = MEL_WIDTH  # type: ignore[attr-defined]
