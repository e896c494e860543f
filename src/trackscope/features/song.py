"""Feature vectors for mood from audio: pooled musicnn embeddings + descriptors per 30-s window, cached by content.

A window's vector is, for each musicnn layer in :data:`EMBED_LAYERS`, the mean and standard deviation over its 3-s
patches of the channels that depend on the input (the checkpoints' dead filters give channels that are constant up
to float rounding; they are never model inputs, see :func:`trackscope.audio.musicnn.embed.live_channels`), followed
by the numeric descriptors of :func:`trackscope.audio.descriptors.describe`. The FIELD-NOTES measurement on 4Q clips
found MSD_musicnn's penultimate layer and mean_pool its best features, and hand-made statistics ~0.07 macro-F1
worse, so both are kept: the model decides.

**One rule for which 30 s a model sees** (training, ``evaluate``, ``predict``, ``analyze`` alike): a song is read as
consecutive 30-s windows; what is left after the last whole window is a window of its own when it lasts at least
:data:`MIN_WINDOW_S`, else it is split evenly between both ends (so a 30.1-s clip is its centre 30 s, and so is a
33-s one). Training fits one row per window; a song's mood is the duration-weighted mean of its windows'
probabilities.

**Patches kept for "why this mood".** :func:`song_features` also keeps each window's per-patch activations of the
pooled layers (live channels only: 462 float32, ~1.8 KB a 3-s patch, ~0.15 MB for a 4-min song) in
``SongFeatures.extra["patches"]``, so that a window's pooled statistics can be recomputed with a stretch of patches
left out without running the network again (:mod:`trackscope.tasks.mood.why`). A song longer than
:data:`MAX_KEPT_PATCHES` patches (~30 min) keeps none: memory stays bounded, and its stretches are whole windows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackscope.errors import TrackscopeError

EMBED_MODEL = "MSD_musicnn"
EMBED_LAYERS: tuple[str, ...] = ("penultimate", "mean_pool", "taggram")
WINDOW_S = 30.0  # the study's clip length, and Spotify's preview length
MIN_WINDOW_S = 5.0  # a trailing window shorter than this is merged into the song's summary, not scored alone
FEATURE_VERSION = 2  # 2: dead musicnn channels left out; windows centred by the one rule
# One musicnn patch: 187 frames of 256 samples at 16 kHz (trackscope.audio.musicnn.frontend), ~2.99 s.
PATCH_S = 187 * 256 / 16000
# ~30 min of audio, ~1.1 MB of activations; a longer song keeps none (its "why" leaves out whole windows, which
# needs no patches: trackscope.tasks.mood.why)
MAX_KEPT_PATCHES = 600


def feature_config(model: str = EMBED_MODEL, layers: Sequence[str] = EMBED_LAYERS) -> dict[str, Any]:
    return {"version": FEATURE_VERSION, "embed_model": model, "layers": list(layers), "window_s": WINDOW_S, "sr": 22050}


def window_vector(
    y: Any, sr: int, config: dict[str, Any], *, keep_mel: bool = False
) -> tuple[list[str], Any, dict[str, Any]]:
    """Names, the float32 feature vector, and side information (taggram mean, descriptors; with ``keep_mel`` the
    window's mel power spectrogram, which the descriptors compute anyway) of one window."""
    import numpy as np

    from trackscope.audio.descriptors import describe_with_mel
    from trackscope.audio.musicnn import embed
    from trackscope.audio.musicnn.embed import live_channels

    # only the layers used here come back as numpy copies (not timbral/temporal/cnn*: ~5 MB a window)
    emb = embed(y, sr=sr, model=config["embed_model"], layers=list(dict.fromkeys([*config["layers"], "taggram"])))
    live = live_channels(config["embed_model"])
    names: list[str] = []
    parts: list[Any] = []
    patches: list[Any] = []
    for layer in config["layers"]:
        a = np.asarray(emb[layer], dtype=np.float32)
        a = a.reshape(a.shape[0], -1)
        channels = np.flatnonzero(live[layer]) if layer in live else np.arange(a.shape[1])
        a = a[:, channels]
        for stat, v in (("mean", a.mean(axis=0)), ("std", a.std(axis=0))):
            names.extend(f"{layer}.{stat}.{i}" for i in channels)
            parts.append(v)
        patches.append(a)
    desc, mel = describe_with_mel(y, sr)
    numeric = {
        k: float(v)
        for k, v in sorted(desc.items())
        if isinstance(v, int | float | np.number) and not isinstance(v, bool)
    }
    names.extend(f"desc.{k}" for k in numeric)
    parts.append(np.array(list(numeric.values()), dtype=np.float32))
    vec = np.nan_to_num(np.concatenate(parts).astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    side = {
        "tag_mean": np.asarray(emb["taggram"], dtype=np.float32).mean(axis=0),
        "tags": list(emb["tags"]),
        "desc": desc,
        # per layer of config["layers"], in order: its live channels per patch (n_patches, channels), float32; the
        # vector starts with each one's mean then std over the patches (see pooled_vector)
        "patches": patches,
    }
    if keep_mel:
        side["mel"] = mel
    return names, vec, side


def pooled_vector(vector: Any, patches: Sequence[Any], drop: Any = None) -> Any:
    """``vector`` (a window's features) with its musicnn statistics recomputed from ``patches`` (``side["patches"]``
    of :func:`window_vector`) with the patches at indices ``drop`` left out; the descriptors are kept as they are.
    The same arithmetic as :func:`window_vector`, so with nothing dropped the vector comes back unchanged."""
    import numpy as np

    out = np.array(vector, dtype=np.float32, copy=True)
    pos = 0
    for a in patches:
        kept = a if drop is None or len(drop) == 0 else np.delete(a, drop, axis=0)
        width = a.shape[1]
        out[pos : pos + width] = kept.mean(axis=0)
        out[pos + width : pos + 2 * width] = kept.std(axis=0)
        pos += 2 * width
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass
class SongFeatures:
    """Features of every 30-s window of one song."""

    path: Path
    names: list[str]
    vectors: Any  # (n_windows, n_features) float32
    starts: list[float]  # window start times, seconds
    durations: list[float]
    tag_mean: Any  # (n_windows, 50)
    tags: list[str]
    descriptors: list[dict[str, Any]]
    total_duration: float
    silent: bool = False
    # "patches": per window, per pooled layer, the live channels' activations per 3-s patch (see window_vector);
    # "patch_s": a patch's length in seconds. Empty for a song too long to keep them (MAX_KEPT_PATCHES).
    extra: dict[str, Any] = field(default_factory=dict)


def song_features(path: str | Path, config: dict[str, Any], *, mel_columns: int | None = None) -> SongFeatures:
    """Features of every 30-s window of a song, by the module's one window rule (see the module docstring).

    ``mel_columns``: also keep the scored audio's mel power spectrogram, averaged in time down to about that many
    columns for the whole song (``extra["picture"]["mel"]``; the descriptors compute it anyway), for a picture of
    the whole song without decoding it again."""
    import numpy as np

    from trackscope.audio.io import iter_windows

    path = Path(path)
    # Each window is scored as soon as it is decoded and then dropped: a long song is never held whole (a 10-min
    # stereo song is ~105 MB as 22.05-kHz float32 mid + side).
    names: list[str] = []
    vecs, tag_means, descs, patches = [], [], [], []
    starts: list[float] = []
    durations: list[float] = []
    tags: list[str] = []
    total: float | None = None
    silent = True
    picture = _PictureParts()
    from trackscope.audio.loudness import integrated_loudness

    for w in iter_windows(path, sr=config["sr"], window=config["window_s"], side=True, trim=MIN_WINDOW_S):
        if durations and w.duration < MIN_WINDOW_S:  # a short tail where the length was not known up front
            break
        if not durations:
            total = getattr(w, "total_duration", None)
        starts.append(float(w.offset))
        durations.append(float(w.duration))
        picture.add(w.samples, w.sr, float(w.offset), total)
        silent = silent and bool(getattr(w, "silent", False))
        names, vec, side = window_vector(w.samples, w.sr, config, keep_mel=mel_columns is not None)
        if mel_columns is not None:
            picture.add_mel(side.pop("mel"), mel_columns, config["window_s"])
        vecs.append(vec)
        patches.append(side["patches"])
        tag_means.append(side["tag_mean"])
        tags = side["tags"]
        # The model's inputs stay as trained (loudness of the downmix); the loudness *reported* for a stereo song
        # is the exact two-channel BS.1770 value.
        if w.side is not None:
            side["desc"]["loudness_lufs"], side["desc"]["loudness_range"] = integrated_loudness(
                w.samples, w.sr, side=w.side
            )
        descs.append(side["desc"])
        del w, side
    if not durations:
        raise TrackscopeError("no audio windows could be read", path=path)
    total = float(total or sum(durations))
    n_patches = sum(len(p[0]) for p in patches if p)
    extra: dict[str, Any] = {"patches": patches, "patch_s": PATCH_S} if n_patches <= MAX_KEPT_PATCHES else {}
    extra["picture"] = picture.parts()
    return SongFeatures(
        path=path,
        names=names,
        vectors=np.stack(vecs),
        starts=starts,
        durations=durations,
        tag_mean=np.stack(tag_means),
        tags=tags,
        descriptors=descs,
        total_duration=total,
        silent=silent,
        extra=extra,
    )


ENVELOPE_HOP = 512  # samples per min/max bin of the song's envelope (23 ms at 22.05 kHz: 26,000 bins in 10 min)


class _PictureParts:
    """What a song's picture needs, gathered while its windows are decoded for the features anyway (decoding again
    was most of report.html's cost): the min/max envelope of the scored audio and the samples of the window nearest
    the song's middle."""

    def __init__(self) -> None:
        self.t: list[Any] = []
        self.lo: list[Any] = []
        self.hi: list[Any] = []
        self.clip: Any = None
        self.start = 0.0
        self.sr = 0
        self._gap = float("inf")
        self.first: float | None = None  # the scored audio: from `first` to `end` seconds of `total`
        self.end = 0.0
        self.total: float | None = None
        self.mels: list[Any] = []
        self.mel_step = 1

    def add(self, y: Any, sr: int, offset: float, total: float | None) -> None:
        import numpy as np

        if self.first is None:
            self.first, self.total = offset, total
        self.end = offset + len(y) / sr
        n = len(y) // ENVELOPE_HOP
        if n:
            blk = np.asarray(y[: n * ENVELOPE_HOP]).reshape(n, ENVELOPE_HOP)
            self.t.append(offset + np.arange(n) * (ENVELOPE_HOP / sr))
            self.lo.append(blk.min(axis=1))
            self.hi.append(blk.max(axis=1))
        middle = max(0.0, ((total or 0.0) - WINDOW_S) / 2.0)
        gap = abs(offset - middle)
        if gap < self._gap:  # windows come in order: the nearest so far
            self._gap, self.clip, self.start, self.sr = gap, np.array(y, dtype=np.float32), offset, sr

    def add_mel(self, mel: Any, columns: int, window_s: float) -> None:
        """A window's mel power (bands × frames), averaged over groups of ``mel_step`` frames: the step chosen at the
        first window so that the whole song comes to at most ``columns`` columns (one partial group per window
        included); with the length unknown, every frame is kept."""
        import math

        import numpy as np

        from trackscope.constants import HOP_LENGTH

        if not self.mels and self.total:
            frames = self.total * self.sr / HOP_LENGTH
            windows = math.ceil(self.total / window_s)
            self.mel_step = max(1, math.ceil(frames / max(columns - windows, 1)))
        self.mels.append(reduce_frames(np.asarray(mel, dtype=np.float32), self.mel_step))

    def parts(self) -> dict[str, Any]:
        import numpy as np

        cat = (lambda xs: np.concatenate(xs)) if self.t else (lambda xs: np.zeros(1, dtype=np.float32))
        out = {"t": cat(self.t), "lo": cat(self.lo), "hi": cat(self.hi), "clip": self.clip, "start": self.start,
               "sr": self.sr, "first": self.first or 0.0, "end": self.end, "total": self.total}  # fmt: skip
        if self.mels:
            out["mel"] = np.concatenate(self.mels, axis=1)
            out["mel_step"] = self.mel_step
        return out


def reduce_frames(mel: Any, step: int) -> Any:
    """``mel`` (bands × frames) averaged over consecutive groups of ``step`` frames (a last partial group alone)."""
    import numpy as np

    if step <= 1 or mel.shape[1] == 0:
        return mel
    whole = mel.shape[1] // step * step
    parts = [mel[:, :whole].reshape(mel.shape[0], -1, step).mean(axis=2)]
    if whole < mel.shape[1]:
        parts.append(mel[:, whole:].mean(axis=1, keepdims=True))
    return np.concatenate(parts, axis=1)


def _clip_windows(config: dict[str, Any], p: Path) -> dict[str, Any]:
    import numpy as np

    sf = song_features(p, config)
    return {
        "vectors": sf.vectors,
        "durations": np.asarray(sf.durations, dtype=np.float64),
        "names": np.array(sf.names),
    }


@dataclass
class ClipMatrix:
    """Window rows of a batch of clips: ``x`` (rows × features), ``clip`` the index into ``kept`` of each row's
    clip, ``weight`` each row's share of its clip's duration (a clip's rows sum to 1)."""

    x: Any
    names: list[str]
    clip: Any
    weight: Any
    kept: list[int]
    failures: list[tuple[str, str]]


def clip_matrix(
    paths: Sequence[str | Path],
    config: dict[str, Any],
    *,
    progress: Callable[[int, int], None] | None = None,
    cache: Any = None,
    workers: int | str = 1,
    engine: str = "local",
    ray_address: str | None = "auto",
) -> ClipMatrix:
    """Window rows of every clip (the module's one window rule), cached by file content + config; clips not in the
    cache are computed in ``workers`` processes (1: this one; ``"auto"``: one per core, see
    :func:`trackscope._workers.choose_workers`), or on a Ray cluster with ``engine="ray"`` (``ray_address``: see
    :mod:`trackscope._ray`). Failures are ``(path, reason)`` and do not stop the batch.
    """
    import functools

    import numpy as np

    from trackscope._hash import config_hash
    from trackscope.features.cache import ClipCache, cached_per_file

    tag = config_hash({**config, "kind": "clip-windows"})
    compute = functools.partial(_clip_windows, config)
    hits, kept, failures = cached_per_file(
        paths,
        tag,
        compute,
        cache=cache or ClipCache(),
        progress=progress,
        workers=workers,
        engine=engine,
        ray_address=ray_address,
    )
    names = [str(n) for n in hits[0]["names"]] if hits else []
    if not hits:
        empty = np.zeros(0)
        return ClipMatrix(np.zeros((0, 0), dtype=np.float32), [], empty.astype(int), empty, [], failures)
    x = np.concatenate([np.asarray(h["vectors"], dtype=np.float32) for h in hits])
    clip = np.concatenate([np.full(len(h["vectors"]), i) for i, h in enumerate(hits)])
    weight = np.concatenate(
        [np.asarray(h["durations"], dtype=np.float64) / max(float(np.sum(h["durations"])), 1e-9) for h in hits]
    )
    return ClipMatrix(x, names, clip, weight, kept, failures)


def clip_proba(proba: Any, rows: ClipMatrix) -> Any:
    """Per-clip class probabilities: the duration-weighted mean of each clip's window rows (as ``predict``)."""
    import numpy as np

    proba = np.asarray(proba, dtype=np.float64)
    out = np.zeros((len(rows.kept), proba.shape[1]))
    np.add.at(out, rows.clip, proba * rows.weight[:, None])
    return out
