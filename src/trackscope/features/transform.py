"""scikit-learn transformers from audio: musicnn embeddings (:class:`MusicnnEmbedder`) and descriptors
(:class:`Descriptors`), for pipelines, grid searches and cross-validation of one's own models.

Each takes ``X``, a list of audio files (or of sample arrays, with ``sr``), and returns one row per input,
``(n_inputs, n_features)``, with :meth:`get_feature_names_out` naming the columns. They follow scikit-learn's
conventions: parameters set in ``__init__`` are stored unchanged (``clone`` and ``set_params`` work), ``fit`` learns
nothing and returns ``self`` (they need no fit: ``transform`` works straight away), and ``set_output(transform=
"pandas")`` gives DataFrames. Bad audio raises :class:`trackscope.errors.AudioError` naming the file.

This module imports scikit-learn when it is imported (the classes derive from its bases); ``import trackscope``
imports it only when ``trackscope.MusicnnEmbedder`` or ``trackscope.Descriptors`` is first used.

Example
-------
>>> from sklearn.linear_model import LogisticRegression  # doctest: +SKIP
>>> from sklearn.pipeline import make_pipeline  # doctest: +SKIP
>>> model = make_pipeline(MusicnnEmbedder(pooling="meanstd"), LogisticRegression(max_iter=1000))  # doctest: +SKIP
>>> model.fit(["a.mp3", "b.mp3", "c.mp3", "d.mp3"], ["happy", "sad", "happy", "sad"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin

from trackscope.errors import AudioError, TrackscopeError

POOLINGS: tuple[str, ...] = ("mean", "meanstd", "max")
_STATS = {"mean": ("mean",), "meanstd": ("mean", "std"), "max": ("max",)}
_LAYOUTS: dict[tuple[str, tuple[str, ...], bool], dict[str, Any]] = {}
_LOCK = threading.Lock()


def _items(X: Any) -> list[Any]:
    """The inputs: audio paths or sample arrays, one per row of the result."""
    if isinstance(X, str | os.PathLike):
        return [X]  # one file
    if hasattr(X, "columns"):  # a DataFrame: its one column
        if X.shape[1] != 1:
            raise TypeError(f"X must be a list of audio paths; a DataFrame needs exactly one column, not {X.shape[1]}")
        X = X.iloc[:, 0]
    kind = getattr(getattr(X, "dtype", None), "kind", "")
    if kind in ("f", "i", "u") and getattr(X, "ndim", 0) == 1:
        return [X]  # one clip of samples
    try:
        return list(X)  # paths, arrays, or the rows of a 2-D array (one clip each)
    except TypeError:
        raise TypeError(f"X must be a list of audio paths or sample arrays, not {type(X).__name__}") from None


def _is_path(item: Any) -> bool:
    return isinstance(item, str | os.PathLike)


class _AudioTransformer(TransformerMixin, BaseEstimator):
    """What both transformers share: nothing to fit, one row per audio input."""

    def fit(self, X: Any, y: Any = None) -> _AudioTransformer:
        """Check the parameters; nothing is learnt. Returns ``self``."""
        self._check()
        return self

    def transform(self, X: Any) -> Any:
        """``(n_inputs, n_features)`` float32 features, one row per input of ``X`` (audio paths, or sample arrays
        when ``sr`` is set), in the order of :meth:`get_feature_names_out`."""
        import numpy as np

        self._check()
        items = _items(X)
        width = len(self.get_feature_names_out())
        if not items:
            return np.zeros((0, width), dtype=np.float32)
        rows = []
        for item in items:
            if not _is_path(item) and self.sr is None:
                raise AudioError(f"{type(self).__name__} got an array of samples: set its sample rate, sr=")
            rows.append(self._row(item))
        return np.stack(rows).astype(np.float32, copy=False)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def _check(self) -> None:
        raise NotImplementedError

    def _row(self, item: Any) -> Any:
        raise NotImplementedError


class MusicnnEmbedder(_AudioTransformer):
    """musicnn embeddings of whole songs: chosen layers, pooled over 3-s patches.

    Parameters
    ----------
    model : str
        ``"MSD_musicnn"`` (default), ``"MTT_musicnn"``, ``"MSD_vgg"`` or ``"MTT_vgg"`` (see
        :func:`trackscope.audio.musicnn.embed`).
    layers : sequence of str, optional
        The outputs to use; default ``("penultimate", "mean_pool", "taggram")`` for musicnn models (what
        ``builtin:mood`` reads; the best features on 4Q clips) and ``("taggram", "pool5")`` for the VGGs.
    pooling : {"mean", "meanstd", "max"}
        Statistics of each channel over the song's 3-s patches: the mean; the mean then the standard deviation
        (default); the maximum. Frame-level layers (``timbral``, ``temporal``, ``cnn1``…, the VGGs' ``pool1``…) are
        pooled over patches and frames alike. On a 30-s clip, ``"meanstd"`` over ``("penultimate", "mean_pool",
        "taggram")`` gives the musicnn part of the features ``builtin:mood`` reads
        (:func:`trackscope.features.song.window_vector`), names included.
    live_only : bool
        Leave out the channels the checkpoints' dead filters make constant (they carry only rounding noise; see
        :func:`trackscope.audio.musicnn.embed.live_channels`). Default True.
    sr : int, optional
        The sample rate of inputs given as arrays of samples (files need none).
    device : str, optional
        A torch device (default CUDA when available, else the CPU).
    batch_size : int, optional
        Patches per forward pass (default: :func:`trackscope.audio.musicnn.embed`'s).

    Feature names are ``"<layer>.<statistic>.<channel>"`` (channels numbered as in the full layer, so a left-out
    dead channel leaves a gap); for frame-level VGG maps ``"<layer>.<statistic>.<band>_<channel>"``.
    """

    def __init__(
        self,
        model: str = "MSD_musicnn",
        layers: Sequence[str] | None = None,
        pooling: str = "meanstd",
        live_only: bool = True,
        sr: int | None = None,
        device: Any = None,
        batch_size: int | None = None,
    ) -> None:
        self.model = model
        self.layers = layers
        self.pooling = pooling
        self.live_only = live_only
        self.sr = sr
        self.device = device
        self.batch_size = batch_size

    def _layers(self) -> tuple[str, ...]:
        from trackscope.audio.musicnn.vgg import VGG_MODELS
        from trackscope.features.song import EMBED_LAYERS

        if self.layers is None:
            return ("taggram", "pool5") if self.model in VGG_MODELS else tuple(EMBED_LAYERS)
        layers = [self.layers] if isinstance(self.layers, str) else list(self.layers)
        return tuple(dict.fromkeys(layers))

    def _check(self) -> None:
        from trackscope.audio.musicnn.embed import _wanted

        if self.pooling not in POOLINGS:
            raise TrackscopeError(f"unknown pooling {self.pooling!r}; choose one of {', '.join(POOLINGS)}")
        _wanted(self.model, self._layers())  # names an unknown model or layer

    def _layout(self) -> dict[str, Any]:
        """Per layer, the channels kept and the names of one statistic's columns (from one silent patch)."""
        import numpy as np

        from trackscope.audio.musicnn.embed import embed_patches, live_channels

        key = (self.model, self._layers(), bool(self.live_only))
        with _LOCK:
            if key in _LAYOUTS:
                return _LAYOUTS[key]
        out = embed_patches(np.zeros((1, 187, 96), np.float32), model=self.model, layers=key[1], device="cpu")
        live = live_channels(self.model) if self.live_only else {}
        layout: dict[str, Any] = {}
        for layer in key[1]:
            shape = np.asarray(out[layer]).shape[1:]  # per patch: (channels,) or (frames, ..., channels)
            mask = live.get(layer)
            channels = np.flatnonzero(mask) if mask is not None else np.arange(shape[-1])
            inner = shape[1:-1] if len(shape) >= 2 else ()  # axes kept between the pooled frames and the channels
            labels = ["_".join(map(str, (*idx, c))) if idx else str(c) for idx in np.ndindex(*inner) for c in channels]
            layout[layer] = {"channels": channels, "labels": labels}
        with _LOCK:
            _LAYOUTS[key] = layout
        return layout

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        """The column names: for each layer, each statistic of :attr:`pooling`, each channel kept."""
        import numpy as np

        self._check()
        names = [
            f"{layer}.{stat}.{label}"
            for layer, spec in self._layout().items()
            for stat in _STATS[self.pooling]
            for label in spec["labels"]
        ]
        return np.asarray(names, dtype=object)

    def _row(self, item: Any) -> Any:
        import numpy as np

        from trackscope.audio.musicnn import embed

        layout = self._layout()
        out = embed(
            item if _is_path(item) else np.asarray(item),
            sr=None if _is_path(item) else self.sr,
            model=self.model,
            device=self.device,
            batch_size=self.batch_size,
            layers=list(layout),
        )
        parts = []
        for layer, spec in layout.items():
            a = np.asarray(out[layer], dtype=np.float32)[..., spec["channels"]]
            a = a.reshape(a.shape[0] * (a.shape[1] if a.ndim >= 3 else 1), -1)  # rows: patches (× frames)
            for stat in _STATS[self.pooling]:
                parts.append(getattr(a, stat)(axis=0))
        return np.concatenate(parts)


class Descriptors(_AudioTransformer):
    """Audio descriptors of whole songs: tempo, key, loudness, dynamics, spectral shape, MFCC and chroma statistics
    (:data:`trackscope.audio.descriptors.DESCRIPTORS` names and defines each; ``get_feature_names_out`` lists them).

    Parameters
    ----------
    key_profile : {"krumhansl", "temperley"}
        The key profiles the key is estimated with.
    sr : int, optional
        The sample rate of inputs given as arrays of samples (files need none). Everything is analysed at
        22.05 kHz, as elsewhere in trackscope.
    """

    def __init__(self, key_profile: str = "krumhansl", sr: int | None = None) -> None:
        self.key_profile = key_profile
        self.sr = sr

    def _check(self) -> None:
        from trackscope.audio.descriptors import KEY_PROFILES

        if self.key_profile not in KEY_PROFILES:
            raise TrackscopeError(
                f"unknown key_profile {self.key_profile!r}; choose one of {', '.join(sorted(KEY_PROFILES))}"
            )

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        """The descriptor names, in the order of the columns."""
        import numpy as np

        from trackscope.audio.descriptors import DESCRIPTORS

        return np.asarray(list(DESCRIPTORS), dtype=object)

    def _row(self, item: Any) -> Any:
        import numpy as np

        from trackscope.audio.descriptors import describe, describe_file
        from trackscope.audio.io import decode_array
        from trackscope.constants import SAMPLE_RATE

        if _is_path(item):
            values = describe_file(item, key_profile=self.key_profile)
        else:
            values = describe(
                decode_array(item, int(self.sr), sr=SAMPLE_RATE), SAMPLE_RATE, key_profile=self.key_profile
            )
        return np.asarray([values[k] for k in self.get_feature_names_out()], dtype=np.float64)
