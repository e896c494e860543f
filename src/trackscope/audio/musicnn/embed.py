"""``embed``: musicnn's taggram and intermediate features for a song, per 3-s patch."""

from __future__ import annotations

import threading
from typing import Any

from trackscope.errors import TrackscopeError

DEFAULT_MODEL = "MSD_musicnn"
# Patches per forward pass. On CPU a few at a time keep the intermediate maps in cache: 4 ran ~15–25 % faster than
# 1, 2 or a whole 30-s clip (10 patches) at once (measured); a GPU wants large batches.
CPU_BATCH_SIZE = 4
GPU_BATCH_SIZE = 64
_MODELS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def _device(device: Any = None):
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def get_model(model: str = DEFAULT_MODEL, device: Any = None):
    """The PyTorch musicnn ``model`` on ``device``, loaded once per process (weights fetched on first use)."""
    from trackscope.audio.musicnn.model import MODELS, build_model
    from trackscope.audio.musicnn.weights import load_weights

    if model not in MODELS:
        raise TrackscopeError(f"unknown musicnn model {model!r}; choose one of {', '.join(MODELS)}")
    dev = _device(device)
    key = (model, str(dev))
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = build_model(load_weights(model), model).to(dev)
        return _MODELS[key]


def embed_patches(patches: Any, model: str = DEFAULT_MODEL, device: Any = None, batch_size: int | None = None):
    """musicnn outputs for ready-made log-mel patches (n × 187 × 96): dict of numpy arrays, plus ``tags``."""
    import numpy as np
    import torch

    from trackscope.audio.musicnn.model import OUTPUTS

    net = get_model(model, device)
    dev = next(iter(net.buffers())).device
    x = np.asarray(patches, dtype=np.float32)
    if x.ndim != 3 or x.shape[2] != 96 or x.shape[0] == 0:
        raise TrackscopeError(f"musicnn patches must have shape (n, frames, 96), got {x.shape}")
    if batch_size is None:
        batch_size = CPU_BATCH_SIZE if dev.type == "cpu" else GPU_BATCH_SIZE
    if batch_size < 1:
        raise TrackscopeError(f"batch_size must be at least 1, got {batch_size}")
    parts: dict[str, list] = {k: [] for k in OUTPUTS}
    with torch.inference_mode():
        for start in range(0, x.shape[0], batch_size):
            out = net(torch.from_numpy(x[start : start + batch_size]).to(dev))
            for k in OUTPUTS:
                parts[k].append(out[k].float().cpu().numpy())
    result: dict[str, Any] = {k: np.concatenate(v, axis=0) for k, v in parts.items()}
    result["tags"] = list(net.tags)
    return result


def embed(
    path_or_array: Any,
    sr: int | None = None,
    model: str = DEFAULT_MODEL,
    device: Any = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """musicnn's tag probabilities and intermediate features for every 3-s patch of a song.

    Parameters
    ----------
    path_or_array : an audio file, or an array of samples ((n,), (n, channels) or (channels, n)).
    sr : the array's sample rate (required for arrays; files are resampled to 16 kHz).
    model : ``"MSD_musicnn"`` (Million Song Dataset tags) or ``"MTT_musicnn"`` (MagnaTagATune tags).
    device : a torch device; default CUDA when available, else CPU.
    batch_size : patches per forward pass (default 4 on CPU, 64 on a GPU).

    Returns
    -------
    dict with numpy float32 arrays, one row per non-overlapping 3-s patch (187 frames; a trailing remainder
    is dropped as in musicnn; audio shorter than 3 s is repeated to fill one patch):
    ``taggram`` (n, 50) sigmoid tag probabilities, ``timbral`` (n, 187, 408), ``temporal`` (n, 187, 153),
    ``cnn1``/``cnn2``/``cnn3`` (n, 187, 64), ``mean_pool``/``max_pool`` (n, 753), ``penultimate`` (n, 200);
    ``tags`` the 50 tag names and ``patches`` the log-mel input (n, 187, 96).

    The first call downloads musicnn's weights from PyPI once (see :mod:`trackscope.audio.musicnn.weights`).

    Examples
    --------
    >>> out = trackscope.embed("song.mp3")  # doctest: +SKIP
    >>> [out["tags"][i] for i in out["taggram"].mean(0).argsort()[::-1][:3]]  # doctest: +SKIP
    ['rock', 'guitar', 'classic rock']
    """
    from trackscope.audio.musicnn.frontend import load, spectrogram_patches

    if model not in ("MSD_musicnn", "MTT_musicnn"):
        raise TrackscopeError(f"unknown musicnn model {model!r}; choose MSD_musicnn or MTT_musicnn")
    patches = spectrogram_patches(load(path_or_array, sr))
    result = embed_patches(patches, model=model, device=device, batch_size=batch_size)
    result["patches"] = patches
    return result
