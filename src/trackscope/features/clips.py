"""Clip features of the popularity networks: the log-mel spectrogram of a clip's centre, and pooled musicnn
embeddings, computed once per file content (a feature store or a private cache) and in worker processes.

Each clip becomes a log-mel spectrogram of the centre ``clip_seconds`` (the study: 30-s previews → 128 × 1292 at
22.05 kHz, hop 512), cached by file content (float16).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trackscope.constants import HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE

CLIP_SECONDS = 30.0  # the study's previews


def mel_config(*, n_mels: int = N_MELS, clip_seconds: float = CLIP_SECONDS, sr: int = SAMPLE_RATE) -> dict[str, Any]:
    n_samples = int(round(clip_seconds * sr))
    return {
        "sr": sr,
        "n_fft": N_FFT,
        "hop_length": HOP_LENGTH,
        "n_mels": n_mels,
        "clip_seconds": clip_seconds,
        "n_frames": 1 + n_samples // HOP_LENGTH,  # centred frames, as librosa
        "db": "power_to_db(ref=1, top_db=80)",
    }


def data_clip_seconds(paths: Sequence[Any], *, cap: float = CLIP_SECONDS) -> float:
    """The clip length the data has: the longest clip (from the headers, nothing decoded), at most ``cap``, rounded
    up to 0.1 s. A network then sees each clip at its own length instead of padded to 30 s (6-s clips in a 30-s
    frame were 80 % padding: 5× the work for nothing). Unreadable files are skipped here (they fail later, with
    their reason); with no length known, ``cap``."""
    import math

    from trackscope.audio.io import audio_duration
    from trackscope.errors import TrackscopeError

    longest = 0.0
    for p in paths:
        try:
            d = audio_duration(p)
        except TrackscopeError:
            continue
        if d is not None:
            longest = max(longest, d)
            if longest >= cap:
                return float(cap)
    return float(cap) if longest <= 0 else min(float(cap), math.ceil(longest * 10 - 1e-6) / 10)


def clip_mel(path: Any, cfg: dict[str, Any]) -> np.ndarray:
    """The centre ``clip_seconds`` of a file as a (n_mels, n_frames) float32 log-mel; shorter clips padded."""
    from trackscope.audio.io import load_audio
    from trackscope.audio.mel import melspectrogram, power_to_db

    audio = load_audio(path, sr=cfg["sr"], duration=cfg["clip_seconds"], centre=True)
    y = np.zeros(int(round(cfg["clip_seconds"] * cfg["sr"])), dtype=np.float32)
    y[: min(len(y), len(audio.samples))] = audio.samples[: len(y)]
    s = melspectrogram(y, sr=cfg["sr"], n_fft=cfg["n_fft"], hop_length=cfg["hop_length"], n_mels=cfg["n_mels"])
    return power_to_db(s)[:, : cfg["n_frames"]].astype(np.float32)


def _mel_entry(cfg: dict[str, Any], p: Path) -> dict[str, Any]:
    return {"mel": clip_mel(p, cfg).astype(np.float16)}


def mels_for(
    paths: Sequence[Path],
    cfg: dict[str, Any],
    *,
    store: Any,
    progress: Callable[[int, int], None] | None = None,
    workers: int | str = 1,
    engine: str = "local",
    ray_address: str | None = "auto",
) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    """Mels of many files through the content-addressed store: ``(array (n, 1, mels, frames) float16, ok, bad)``.

    ``store`` may be a ``trackscope extract`` feature store: when its mel configuration fits (22.05 kHz, 128 bands,
    the centre ``clip_seconds``), mels are read from it and missing files are added to it, so one extraction serves
    every experiment. Any other folder is used as a private cache. Files not yet cached are computed in ``workers``
    processes (1: this one; ``"auto"``: one per core), or on a Ray cluster (``engine="ray"``, ``ray_address``)."""
    import functools

    from trackscope._hash import config_hash
    from trackscope.features.cache import ClipCache, cached_per_file

    if store is not None and _is_extract_store(store, cfg):
        return _mels_from_extract_store(paths, cfg, Path(store), progress, engine, ray_address)

    cache = ClipCache(store, namespace="mels") if store is not None else None
    tag = config_hash({"what": "popularity-mel", **cfg})
    compute = functools.partial(_mel_entry, cfg)
    hits, ok, bad = cached_per_file(
        paths, tag, compute, cache=cache, progress=progress, workers=workers, engine=engine, ray_address=ray_address
    )
    out = [h["mel"] for h in hits]
    shape = (0, 1, cfg["n_mels"], cfg["n_frames"])
    return (np.stack(out)[:, None] if out else np.zeros(shape, np.float16)), ok, bad


def _is_extract_store(store: Any, cfg: dict[str, Any]) -> bool:
    return (Path(store) / "store.json").is_file() and cfg["n_mels"] == N_MELS and cfg["sr"] == SAMPLE_RATE


def _mels_from_extract_store(
    paths: Sequence[Path],
    cfg: dict[str, Any],
    store: Path,
    progress: Callable[[int, int], None] | None,
    engine: str = "local",
    ray_address: str | None = "auto",
) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    from trackscope.errors import TrackscopeError
    from trackscope.features.reader import FeatureStore
    from trackscope.features.store import extract

    summary = extract(list(paths), store, what=("mel",), sr=cfg["sr"], mel_window=cfg["clip_seconds"],
                      progress=progress, engine=engine, ray_address=ray_address)  # fmt: skip
    reasons = {str(Path(f["path"]).resolve()): f["reason"] for f in summary.get("failures", [])}
    fs = FeatureStore(store)
    out, ok, bad = [], [], []
    for i, p in enumerate(paths):
        try:
            out.append(fs.mel(Path(p).resolve(), frames=cfg["n_frames"]).astype(np.float16))
            ok.append(i)
        except TrackscopeError as err:
            bad.append((str(p), reasons.get(str(Path(p).resolve()), err.reason)))
    shape = (0, 1, cfg["n_mels"], cfg["n_frames"])
    return (np.stack(out)[:, None] if out else np.zeros(shape, np.float16)), ok, bad


def _embedding_entry(p: Path) -> dict[str, Any]:
    from trackscope.audio.musicnn import embed

    pen = embed(str(p), layers=["penultimate"])["penultimate"]
    return {"vec": np.concatenate([pen.mean(0), pen.std(0)]).astype(np.float32)}


def embeddings_for(
    paths: Sequence[Path],
    *,
    store: Any,
    workers: int | str = 1,
    engine: str = "local",
    ray_address: str | None = "auto",
) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    """musicnn penultimate-layer mean and std over 3-s patches (400 values per clip); files not yet cached are
    computed in ``workers`` processes (1: this one; ``"auto"``: one per core), or on a Ray cluster (``engine``)."""
    from trackscope.features.cache import ClipCache, cached_per_file

    cache = ClipCache(store, namespace="musicnn") if store is not None else None
    hits, ok, bad = cached_per_file(
        paths, "msd-penultimate", _embedding_entry, cache=cache, workers=workers, engine=engine, ray_address=ray_address
    )
    out = [h["vec"] for h in hits]
    return (np.stack(out) if out else np.zeros((0, 400), np.float32)), ok, bad
