"""Hit potential from audio: the study's spectrogram networks (and a musicnn-embedding head) on labelled clips.

Each clip becomes a log-mel spectrogram of the centre ``clip_seconds`` (the study: 30-s previews → 128 × 1292 at
22.05 kHz, hop 512), cached by file content in a feature store (float16). Networks train with
:func:`trackscope.models.training.fit`: the test split is the validation set for early stopping and model choice,
the holdout is touched once, at the end. Work files (the mel store and resumable checkpoints) live in a sibling
folder ``<out>.work`` because the model folder itself is replaced atomically when it is written; re-running the same
command after an interruption carries on where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trackscope.constants import HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE
from trackscope.errors import ModelError, TrackscopeError
from trackscope.tasks import popularity_data as pdata

AUDIO_MODELS: tuple[str, ...] = ("dummy", "mlp", "cnn1", "cnn2", "crnn", "embedding")
DEFAULT_AUDIO_MODELS: tuple[str, ...] = ("dummy", "mlp", "cnn1", "cnn2", "crnn")
CLIP_SECONDS = 30.0  # the study's previews
CLASSES = ["not popular", "popular"]


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
) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    """Mels of many files through the content-addressed store: ``(array (n, 1, mels, frames) float16, ok, bad)``.

    ``store`` may be a ``trackscope extract`` feature store: when its mel configuration fits (22.05 kHz, 128 bands,
    the centre ``clip_seconds``), mels are read from it and missing files are added to it, so one extraction serves
    every experiment. Any other folder is used as a private cache. Files not yet cached are computed in ``workers``
    processes (1: this one; ``"auto"``: one per core)."""
    import functools

    from trackscope._hash import config_hash
    from trackscope.features.cache import ClipCache, cached_per_file

    if store is not None and _is_extract_store(store, cfg):
        return _mels_from_extract_store(paths, cfg, Path(store), progress)

    cache = ClipCache(store, namespace="mels") if store is not None else None
    tag = config_hash({"what": "popularity-mel", **cfg})
    compute = functools.partial(_mel_entry, cfg)
    hits, ok, bad = cached_per_file(paths, tag, compute, cache=cache, progress=progress, workers=workers)
    out = [h["mel"] for h in hits]
    shape = (0, 1, cfg["n_mels"], cfg["n_frames"])
    return (np.stack(out)[:, None] if out else np.zeros(shape, np.float16)), ok, bad


def _is_extract_store(store: Any, cfg: dict[str, Any]) -> bool:
    from trackscope.constants import N_MELS, SAMPLE_RATE

    return (Path(store) / "store.json").is_file() and cfg["n_mels"] == N_MELS and cfg["sr"] == SAMPLE_RATE


def _mels_from_extract_store(
    paths: Sequence[Path], cfg: dict[str, Any], store: Path, progress: Callable[[int, int], None] | None
) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    from trackscope.errors import TrackscopeError
    from trackscope.features.reader import FeatureStore
    from trackscope.features.store import extract

    summary = extract(list(paths), store, what=("mel",), sr=cfg["sr"], mel_window=cfg["clip_seconds"],
                      progress=progress)  # fmt: skip
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
    paths: Sequence[Path], *, store: Any, workers: int | str = 1
) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    """musicnn penultimate-layer mean and std over 3-s patches (400 values per clip); files not yet cached are
    computed in ``workers`` processes (1: this one; ``"auto"``: one per core)."""
    from trackscope.features.cache import ClipCache, cached_per_file

    cache = ClipCache(store, namespace="musicnn") if store is not None else None
    hits, ok, bad = cached_per_file(paths, "msd-penultimate", _embedding_entry, cache=cache, workers=workers)
    out = [h["vec"] for h in hits]
    return (np.stack(out) if out else np.zeros((0, 400), np.float32)), ok, bad


def labelled_clips(audio: Any, labels: Any, *, id_column: str | None, target: str, group_column: str | None):
    """Match label rows with files: ``(paths, scores, groups, info)``; a non-numeric score stops with a message."""
    from trackscope.sources.audio_dirs import find_labelled_audio, read_labels, walk_audio

    if not Path(audio).is_dir():
        raise TrackscopeError("audio folder not found", path=audio)
    frame = read_labels(labels, label=target, group_column=group_column)
    if id_column is None:  # the column whose values name the most files
        files, _ = walk_audio([audio])
        names = {f.stem for f in files} | {f.name for f in files}
        best = max(
            (c for c in frame.columns if c not in (target, group_column)),
            key=lambda c: sum(str(v).strip() in names or Path(str(v)).stem in names for v in frame[c]),
            default=None,
        )
        if best is None:
            raise TrackscopeError("the label file has no column naming the audio files; use --id-column", path=labels)
        id_column = best
    found = find_labelled_audio(audio, labels, id_column=id_column, label=target, group_column=group_column)
    try:
        scores = np.asarray([float(v) for v in found.labels])
    except ValueError:
        bad = next(v for v in found.labels if not _is_number(v))
        raise TrackscopeError(f"non-numeric popularity {bad!r} in column {target!r}", path=labels) from None
    keep = np.isfinite(scores)
    paths = [p for p, k in zip(found.paths, keep, strict=True) if k]
    groups = [g for g, k in zip(found.groups, keep, strict=True) if k] if found.groups else None
    info = {"id_column": id_column, "missing_audio": found.missing, "missing_score": int((~keep).sum())}
    return paths, scores[keep], groups, info


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def work_dir(out: Any) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".work")


def _mean_std(x: np.ndarray, rows: np.ndarray, chunk: int = 256) -> tuple[float, float]:
    """Mean and standard deviation over the training rows, in chunks (12k float16 mels would be 8 GB as float32)."""
    total, total_sq, count = 0.0, 0.0, 0
    for start in range(0, len(rows), chunk):
        part = x[rows[start : start + chunk]].astype(np.float64)
        total += float(part.sum())
        total_sq += float(np.square(part).sum())
        count += part.size
    mean = total / max(count, 1)
    return mean, float(np.sqrt(max(total_sq / max(count, 1) - mean**2, 0.0)))


def _fit_net(name, x, y, splits, *, cfg, config, ckpt, progress):
    import torch

    from trackscope.models.nets import build
    from trackscope.models.training import Standardize, fit

    tr = splits["train"]
    mean, std = _mean_std(x, tr)
    torch.manual_seed(config.seed)
    shape = {"n_inputs": x.shape[1]} if name == "embedding" else {"n_mels": cfg["n_mels"], "n_frames": cfg["n_frames"]}
    net = Standardize(build(name, **shape), mean, std)
    return fit(
        net, x[tr], y[tr], x[splits["test"]], y[splits["test"]], config=config, checkpoint_dir=ckpt, progress=progress
    )


def train_audio(
    *,
    audio: Any,
    labels: Any,
    id_column: str | None = None,
    target: str = "popularity",
    models: Sequence[str] | None = None,
    threshold: Any = "auto",
    group_column: str | None = None,
    epochs: int | None = None,
    seed: int = 0,
    out: Any,
    progress: Callable[[int, int], None] | None = None,
    store: Any = None,
    n_mels: int = N_MELS,
    clip_seconds: float = CLIP_SECONDS,
    batch_size: int = 32,
    patience: int = 5,
    fast: bool | None = None,
    workers: int | str = 1,
) -> dict[str, Any]:
    """Train the audio models on labelled clips; save the best (by test ROC-AUC) to ``out``; returns the metrics.
    Mels and embeddings not yet cached are computed in ``workers`` processes (1: this one; ``"auto"``: one per core).
    """
    from trackscope._machine import versions
    from trackscope.models.training import TrainConfig, predict_proba, roc_auc
    from trackscope.tasks import popularity_report as report

    names = [m.lower() for m in (models or DEFAULT_AUDIO_MODELS)]
    unknown = [m for m in names if m not in AUDIO_MODELS]
    if unknown:
        raise TrackscopeError(f"unknown audio model {unknown[0]!r} (choose from {', '.join(AUDIO_MODELS)})")
    paths, scores, groups, info = labelled_clips(
        audio, labels, id_column=id_column, target=target, group_column=group_column
    )
    cfg = mel_config(n_mels=n_mels, clip_seconds=clip_seconds)
    work = work_dir(out)
    store = Path(store) if store is not None else work / "store"
    x, ok, bad = mels_for(paths, cfg, store=store, progress=progress, workers=workers)
    if len(ok) < 10:
        raise TrackscopeError(f"only {len(ok)} usable clips; need at least 10", path=audio)
    paths, scores = [paths[i] for i in ok], scores[ok]
    groups = [groups[i] for i in ok] if groups else None
    splits = pdata.split_indices(len(paths), seed=seed, groups=groups)
    try:
        cut, th_info = pdata.resolve_threshold(threshold, scores[splits["train"]])
    except ValueError as err:
        raise TrackscopeError(str(err)) from None
    y = (scores >= cut).astype(np.float32)
    if len(np.unique(y[splits["train"]])) < 2:
        raise TrackscopeError(f"threshold {cut:g} puts every training clip in one class; choose another")
    config = TrainConfig(epochs=epochs or 30, batch_size=batch_size, patience=patience, seed=seed, fast=fast)

    results, curves, nets = {}, {}, {}
    for name in names:
        if name == "dummy":
            prior = float(y[splits["train"]].mean())
            probs = {s: np.full(len(splits[s]), prior) for s in ("test", "holdout")}
        else:
            feats = x
            if name == "embedding":
                emb, eok, ebad = embeddings_for(paths, store=store, workers=workers)
                if len(eok) != len(paths):
                    raise TrackscopeError(f"musicnn failed on {len(ebad)} clips: {ebad[0][0]}: {ebad[0][1]}")
                feats = emb
            res = _fit_net(
                name, feats, y, splits, cfg=cfg, config=config, ckpt=work / "checkpoints" / name, progress=progress
            )
            curves[name] = res.history
            nets[name] = res
            probs = {s: predict_proba(res.net, feats[splits[s]], fast=fast) for s in ("test", "holdout")}
        row = {}
        for s in ("test", "holdout"):
            yy = y[splits[s]]
            row[f"{s}_accuracy"] = float(np.mean((probs[s] >= 0.5) == yy)) if len(yy) else float("nan")
            row[f"{s}_roc_auc"] = roc_auc(yy, probs[s])
        if name in nets:
            row.update(best_epoch=nets[name].best_epoch, epochs_run=len(nets[name].history))
        results[name] = row

    def _score(n: str) -> tuple[float, float]:  # test ROC-AUC, then test accuracy breaks ties
        v, a = results[n]["test_roc_auc"], results[n]["test_accuracy"]
        return (-1.0 if v is None or np.isnan(v) else v, -1.0 if a is None or np.isnan(a) else a)

    candidates = [n for n in names if n != "dummy"] or names
    chosen = max(candidates, key=_score)
    metrics = {
        "task": "popularity",
        "input": "audio",
        "models": results,
        "chosen_model": chosen,
        "threshold": cut,
        "threshold_rule": th_info,
        "data": {
            "path": str(audio),
            "labels": str(labels),
            "sha256": _labels_sha(labels),
            "dedupe": {"rows": len(paths), "unreadable": len(bad)},
            "unreadable": [{"file": f, "reason": r} for f, r in bad],
            "target": target,
            "group_column": group_column,
            **info,
        },
        "splits": report.split_summary(splits, y.astype(int), groups),
        "curves": curves,
        "mel": cfg,
        "training": {**(nets[chosen].config if chosen in nets else {}), "store": str(store)},
        "parameters": {"models": names, "threshold": threshold, "seed": seed, "epochs": config.epochs},
        "versions": versions(),
    }
    meta = {
        "task": "popularity",
        "input": "audio",
        "classes": CLASSES,
        "model": chosen,
        "target": target,
        "threshold": cut,
        "mel": cfg,
        "needs": "musicnn embeddings" if chosen == "embedding" else "audio files",
        "prior": float(y[splits["train"]].mean()),
        "seed": seed,
    }
    tensors = {k: v for k, v in nets[chosen].net.state_dict().items()} if chosen in nets else None
    if chosen == "embedding":
        meta["n_inputs"] = int(tensors["net.net.0.weight"].shape[1])
    report.save_model(out, meta, metrics, tensors=tensors, scores=scores[splits["train"]])
    return metrics


def _labels_sha(labels: Any) -> str:
    from trackscope._hash import file_sha256

    return file_sha256(labels)


def load_net(md: Any):
    """Rebuild a saved audio network (in eval mode) from its folder; None for the dummy."""
    import torch

    from trackscope.models.nets import build
    from trackscope.models.training import Standardize

    name = md.meta["model"]
    if name == "dummy":
        return None
    cfg = md.meta["mel"]
    shape = {"n_inputs": md.meta["n_inputs"]} if name == "embedding" else {k: cfg[k] for k in ("n_mels", "n_frames")}
    net = Standardize(build(name, **shape))
    try:
        net.load_state_dict({k: torch.from_numpy(v) for k, v in md.load_tensors("weights").items()})
    except RuntimeError as err:
        raise ModelError(f"weights do not fit a {name} network: {str(err).splitlines()[0]}", path=md.path) from None
    return net.eval()


def _probabilities(md: Any, paths: Sequence[Path]) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    from trackscope.models.training import predict_proba

    net = load_net(md)
    if md.meta["model"] == "embedding":
        x, ok, bad = embeddings_for(paths, store=None)
    else:
        x, ok, bad = mels_for(paths, md.meta["mel"], store=None)
    p = np.full(len(ok), md.meta["prior"]) if net is None else predict_proba(net, x)
    return p, ok, bad


def evaluate_audio(md: Any, *, audio: Any, labels: Any, id_column: str | None = None, target: str | None = None, **_):
    """Accuracy and ROC-AUC of a saved audio model on a labelled folder (the model's threshold applies)."""
    from trackscope.models.training import roc_auc

    paths, scores, _, info = labelled_clips(
        audio, labels, id_column=id_column, target=target or md.meta["target"], group_column=None
    )
    p, ok, bad = _probabilities(md, paths)
    if not ok:
        raise TrackscopeError("no readable clips", path=audio)
    y = (scores[ok] >= md.meta["threshold"]).astype(int)
    return {
        "accuracy": float(np.mean((p >= 0.5) == y)),
        "roc_auc": roc_auc(y, p),
        "n": len(ok),
        "excluded": len(bad) + len(info["missing_audio"]),
        "unreadable": [{"file": f, "reason": r} for f, r in bad],
        "positives": int(y.sum()),
        "threshold": md.meta["threshold"],
        "model": md.meta["model"],
    }


def predict_audio(md: Any, *, songs: Sequence[Any]) -> Any:
    """Hit probability of every song (files or folders), best first; unreadable files listed last with the reason."""
    import pandas as pd

    from trackscope.sources.audio_dirs import walk_audio

    paths, problems = walk_audio(songs)
    p, ok, bad = _probabilities(md, paths) if paths else (np.zeros(0), [], [])
    rows = [
        {"song": str(paths[i]), "hit_probability": float(q), "hit": bool(q >= 0.5), "error": ""}
        for i, q in zip(ok, p, strict=True)
    ]
    rows.sort(key=lambda r: -r["hit_probability"])
    rows += [{"song": f, "hit_probability": float("nan"), "hit": False, "error": r} for f, r in [*bad, *problems]]
    out = pd.DataFrame(rows, columns=["song", "hit_probability", "hit", "error"])
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def explain_audio(md: Any, *, song: Any, out: Any = None, **_: Any) -> dict[str, Any]:
    from trackscope.tasks.popularity_explain import occlusion

    return occlusion(md, song=song, out=out)
