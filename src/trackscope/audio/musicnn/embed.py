"""``embed``: musicnn's taggram and intermediate features for a song, per 3-s patch.

Four published networks: the musicnn models (:mod:`.model`) and the VGG baselines (:mod:`.vgg`), each trained on
the Million Song Dataset (MSD, 50 Last.fm tags) or MagnaTagATune (MTT, 50 tags); all take the same 187-frame patches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from trackscope.errors import TrackscopeError

DEFAULT_MODEL = "MSD_musicnn"
MODEL_NAMES: tuple[str, ...] = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
# Patches per forward pass. musicnn on CPU: a whole 30-s clip (10 patches) at once, since its mid end and timbral
# expansion run as oneDNN GEMMs that like tall matrices (one thread, per 30-s clip: 49.6 ms at 10, 51.4 at 5, 52.7 at
# 4, 58.0 at 2; 15 at a time spills the cache, +20 %); a GPU wants large batches. The VGG's first maps are
# ~4× larger per patch: 2 at a time ran fastest there (14.7 ms a patch vs 17.0 at 4 and 23.4 at 8, one thread).
CPU_BATCH_SIZE = 10
VGG_CPU_BATCH_SIZE = 2
GPU_BATCH_SIZE = 64
_MODELS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def _device(device: Any = None):
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def check_model(model: str) -> str:
    """``model`` if it names one of :data:`MODEL_NAMES`, else a :class:`TrackscopeError` listing them."""
    if model not in MODEL_NAMES:
        raise TrackscopeError(f"unknown musicnn model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    return model


def model_outputs(model: str) -> tuple[str, ...]:
    """Names of the per-patch arrays that ``model`` returns (``taggram`` first)."""
    from trackscope.audio.musicnn import model as musicnn_model
    from trackscope.audio.musicnn import vgg

    return vgg.OUTPUTS if check_model(model) in vgg.VGG_MODELS else musicnn_model.OUTPUTS


def get_model(model: str = DEFAULT_MODEL, device: Any = None):
    """The PyTorch musicnn ``model`` on ``device``, loaded once per process (weights fetched on first use)."""
    from trackscope.audio.musicnn.model import build_model
    from trackscope.audio.musicnn.vgg import VGG_MODELS, build_vgg
    from trackscope.audio.musicnn.weights import load_weights

    check_model(model)
    dev = _device(device)
    if dev.type == "cpu":
        from trackscope._threads import keep_freed_memory

        keep_freed_memory()  # no page faults per forward pass (see trackscope._threads)
    key = (model, str(dev))
    with _LOCK:
        if key not in _MODELS:
            build = build_vgg if model in VGG_MODELS else build_model
            _MODELS[key] = build(load_weights(model), model).to(dev)
        return _MODELS[key]


_LIVE: dict[str, dict[str, Any]] = {}


def live_channels(model: str = DEFAULT_MODEL) -> dict[str, Any]:
    """Per output layer of ``model``, a boolean mask of the channels that depend on the input (last axis of the
    arrays :func:`embed` returns); layers missing here are live everywhere.

    The checkpoints hold many dead filters whose channels are constant up to float rounding (see
    :func:`trackscope.audio.musicnn.model.constant_channels` and :func:`trackscope.audio.musicnn.vgg.dead_filters`).
    :func:`embed` still returns them (the original network's full layout); features meant for a model must not.
    """
    import numpy as np

    from trackscope.audio.musicnn.model import constant_channels
    from trackscope.audio.musicnn.vgg import VGG_MODELS, dead_filters
    from trackscope.audio.musicnn.weights import load_weights

    check_model(model)
    with _LOCK:
        if model not in _LIVE:
            w = load_weights(model)
            if model in VGG_MODELS:
                masks = {f"pool{i}": ~dead_filters(np.asarray(w[f"{i}CNN/kernel"])) for i in range(1, 6)}
            else:
                masks = {k: ~v for k, v in constant_channels(w).items()}
            _LIVE[model] = masks
        return _LIVE[model]


def _wanted(model: str, layers: Sequence[str] | None) -> tuple[str, ...]:
    outputs = model_outputs(model)
    if layers is None:
        return outputs
    if isinstance(layers, str):
        layers = [layers]
    unknown = [name for name in layers if name not in outputs]
    if unknown:
        raise TrackscopeError(f"{model} has no output {unknown[0]!r}; its outputs are {', '.join(outputs)}")
    return tuple(dict.fromkeys(layers))


def embed_patches(
    patches: Any,
    model: str = DEFAULT_MODEL,
    device: Any = None,
    batch_size: int | None = None,
    layers: Sequence[str] | None = None,
):
    """musicnn outputs for ready-made log-mel patches (n × 187 × 96): dict of numpy arrays, plus ``tags``.

    ``layers`` limits the arrays returned (default: all of the model's outputs, see :func:`embed`).
    """
    import numpy as np
    import torch

    from trackscope._torch import exact_float32
    from trackscope.audio.musicnn.vgg import VGG_MODELS

    outputs = _wanted(model, layers)
    net = get_model(model, device)
    dev = next(iter(net.buffers())).device
    x = np.asarray(patches, dtype=np.float32)
    if x.ndim != 3 or x.shape[2] != 96 or x.shape[0] == 0:
        raise TrackscopeError(f"musicnn patches must have shape (n, frames, 96), got {x.shape}")
    if batch_size is None:
        cpu_batch = VGG_CPU_BATCH_SIZE if model in VGG_MODELS else CPU_BATCH_SIZE
        batch_size = cpu_batch if dev.type == "cpu" else GPU_BATCH_SIZE
    if batch_size < 1:
        raise TrackscopeError(f"batch_size must be at least 1, got {batch_size}")
    is_vgg = model in VGG_MODELS

    def run(lo: int, hi: int) -> dict[str, list]:
        parts: dict[str, list] = {k: [] for k in outputs}
        with torch.inference_mode(), exact_float32(dev):  # thread-local: entered in each thread
            for start in range(lo, hi, batch_size):
                batch = torch.from_numpy(x[start : min(start + batch_size, hi)]).to(dev)
                out = net(batch, outputs) if is_vgg else net(batch)  # the VGG assembles only the maps asked for
                for k in outputs:
                    parts[k].append(out[k].float().cpu().numpy())
        return parts

    threads = torch.get_num_threads()
    n = x.shape[0]
    if dev.type == "cpu" and threads > 1 and n > 1:
        # The network's many small operations do not scale across torch's intra-op threads (2 threads: 74 ms a
        # 30-s clip vs 60 on one, measured), but separate patches do: each of `threads` Python threads runs its
        # share of the patches with one torch thread (34 ms a clip on 2). torch's thread count is process-wide,
        # so it is lowered for the call and restored after.
        from concurrent.futures import ThreadPoolExecutor

        k = min(threads, n)
        bounds = [(i * n // k, (i + 1) * n // k) for i in range(k)]
        batch_size = min(batch_size, max(hi - lo for lo, hi in bounds))
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(k) as pool:
                shares = list(pool.map(lambda b: run(*b), bounds))
        finally:
            torch.set_num_threads(threads)
    else:
        shares = [run(0, n)]
    result: dict[str, Any] = {k: np.concatenate([p for sh in shares for p in sh[k]], axis=0) for k in outputs}
    result["tags"] = list(net.tags)
    return result


def embed(
    path_or_array: Any,
    sr: int | None = None,
    model: str = DEFAULT_MODEL,
    device: Any = None,
    batch_size: int | None = None,
    layers: Sequence[str] | None = None,
) -> dict[str, Any]:
    """musicnn's tag probabilities and intermediate features for every 3-s patch of a song.

    Parameters
    ----------
    path_or_array : an audio file, or an array of samples ((n,), (n, channels) or (channels, n)).
    sr : the array's sample rate (required for arrays; files are resampled to 16 kHz).
    model : ``"MSD_musicnn"`` (Million Song Dataset tags), ``"MTT_musicnn"`` (MagnaTagATune tags), or the VGG
        baselines trained on the same tags, ``"MSD_vgg"`` and ``"MTT_vgg"``.
    device : a torch device; default CUDA when available, else CPU.
    batch_size : patches per forward pass (default 10 on CPU — 2 for the VGGs —, 64 on a GPU).
    layers : the outputs to return (default all; e.g. ``["taggram", "pool5"]`` keeps a long song's VGG maps, ~3 MB a
        patch, out of memory).

    Returns
    -------
    dict with numpy float32 arrays, one row per non-overlapping 3-s patch (187 frames; a trailing remainder
    is dropped as in musicnn; audio shorter than 3 s is repeated to fill one patch), ``tags`` the 50 tag names and
    ``patches`` the log-mel input (n, 187, 96). Always ``taggram`` (n, 50) sigmoid tag probabilities; then

    - musicnn models: ``timbral`` (n, 187, 408), ``temporal`` (n, 187, 153), ``cnn1``/``cnn2``/``cnn3``
      (n, 187, 64), ``mean_pool``/``max_pool`` (n, 753), ``penultimate`` (n, 200);
    - VGG models: the max-pooled maps after each 3 × 3 convolution, named as musicnn's extractor names them, in
      TensorFlow's (time, band, channel) order: ``pool1`` (n, 92, 48, 128), ``pool2`` (n, 46, 24, 128), ``pool3``
      (n, 23, 12, 128), ``pool4`` (n, 11, 6, 128), ``pool5`` (n, 2, 1, 128) — pool5 flattened is the 256-d input of
      the tag layer. (musicnn's extractor returns them with the patches stacked along the time axis instead.)

    The first call downloads musicnn's weights from PyPI once (see :mod:`trackscope.audio.musicnn.weights`).

    Examples
    --------
    >>> out = trackscope.embed("song.mp3")  # doctest: +SKIP
    >>> [out["tags"][i] for i in out["taggram"].mean(0).argsort()[::-1][:3]]  # doctest: +SKIP
    ['rock', 'guitar', 'classic rock']
    """
    from trackscope.audio.musicnn.frontend import load, spectrogram_patches

    _wanted(model, layers)  # a bad model or layer name fails before any audio is read
    patches = spectrogram_patches(load(path_or_array, sr))
    result = embed_patches(patches, model=model, device=device, batch_size=batch_size, layers=layers)
    result["patches"] = patches
    return result
