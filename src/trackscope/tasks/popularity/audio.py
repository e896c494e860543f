"""Hit potential from audio: the study's spectrogram networks (and a musicnn-embedding head) on labelled clips.

Clips become log-mel spectrograms of their centre (or musicnn embeddings; :mod:`trackscope.features.clips`).
Networks train with :func:`trackscope.models.training.fit`: the test split is the validation set for early stopping
and model choice, the holdout is touched once, at the end. Work files (the mel store and resumable checkpoints) live
in ``work`` (the api puts it beside the model folder, ``<out>.work``, because the model folder itself is replaced
atomically when it is written); re-running the same command after an interruption carries on where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trackscope.constants import N_MELS, POPULARITY_CLASSES
from trackscope.errors import TrackscopeError
from trackscope.features.clips import data_clip_seconds, embeddings_for, mel_config, mels_for
from trackscope.models import splits as msplits
from trackscope.tasks.results import TrainedModel

AUDIO_MODELS: tuple[str, ...] = ("dummy", "mlp", "cnn1", "cnn2", "crnn", "embedding")
DEFAULT_AUDIO_MODELS: tuple[str, ...] = ("dummy", "mlp", "cnn1", "cnn2", "crnn")


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
            raise TrackscopeError(
                "the label file has no column naming the audio files; name it with id_column= (--id-column)",
                path=labels,
            )
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
    """Where audio training keeps its work files (mel store, checkpoints): ``<out>.work`` beside the model folder."""
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

    from trackscope.models.nets import Standardize, build
    from trackscope.models.training import fit

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
    work: Any = None,
    progress: Callable[[int, int], None] | None = None,
    store: Any = None,
    n_mels: int = N_MELS,
    clip_seconds: float | None = None,
    batch_size: int = 32,
    patience: int = 5,
    fast: bool | None = None,
    workers: int | str = 1,
    engine: str = "local",
    ray_address: str | None = "auto",
) -> TrainedModel:
    """Train the audio models on labelled clips and keep the best (by test ROC-AUC). ``work`` holds the mel store
    (unless ``store`` names one) and the resumable checkpoints. Mels and embeddings not yet cached are computed in
    ``workers`` processes (1: this one; ``"auto"``: one per core), or on a Ray cluster with ``engine="ray"``
    (``ray_address``: see :mod:`trackscope._ray`).
    """
    from trackscope._hash import file_sha256
    from trackscope._machine import versions
    from trackscope.models.training import TrainConfig, predict_proba, roc_auc

    if work is None:
        raise TrackscopeError("audio training needs a work folder (work=...) for its mel store and checkpoints")

    names = [m.lower() for m in (models or DEFAULT_AUDIO_MODELS)]
    unknown = [m for m in names if m not in AUDIO_MODELS]
    if unknown:
        raise TrackscopeError(f"unknown audio model {unknown[0]!r} (choose from {', '.join(AUDIO_MODELS)})")
    paths, scores, groups, info = labelled_clips(
        audio, labels, id_column=id_column, target=target, group_column=group_column
    )
    if clip_seconds is None:  # the length the clips have (up to the study's 30 s), not 30 s of padding
        clip_seconds = data_clip_seconds(paths)
    cfg = mel_config(n_mels=n_mels, clip_seconds=clip_seconds)
    work = Path(work)
    store = Path(store) if store is not None else work / "store"
    on = {"workers": workers, "engine": engine, "ray_address": ray_address}
    x, ok, bad = mels_for(paths, cfg, store=store, progress=progress, **on)
    if len(ok) < 10:
        raise TrackscopeError(f"only {len(ok)} usable clips; need at least 10", path=audio)
    paths, scores = [paths[i] for i in ok], scores[ok]
    groups = [groups[i] for i in ok] if groups else None
    splits = msplits.split_indices(len(paths), seed=seed, groups=groups)
    try:
        cut, th_info = msplits.resolve_threshold(threshold, scores[splits["train"]])
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
                emb, eok, ebad = embeddings_for(paths, store=store, **on)
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
            "sha256": file_sha256(labels),
            "dedupe": {"rows": len(paths), "unreadable": len(bad)},
            "unreadable": [{"file": f, "reason": r} for f, r in bad],
            "target": target,
            "group_column": group_column,
            **info,
        },
        "splits": msplits.split_summary(splits, y.astype(int), groups),
        "curves": curves,
        "mel": cfg,
        "training": {**(nets[chosen].config if chosen in nets else {}), "store": str(store)},
        "parameters": {"models": names, "threshold": threshold, "seed": seed, "epochs": config.epochs},
        "versions": versions(),
    }
    meta = {
        "task": "popularity",
        "input": "audio",
        "classes": list(POPULARITY_CLASSES),
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
    return TrainedModel(
        meta,
        metrics,
        tensors={"weights": tensors} if tensors is not None else {},
        report_data={"train_scores": scores[splits["train"]]},
    )


def _probabilities(md: Any, paths: Sequence[Path]) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    from trackscope.models.nets import load_net
    from trackscope.models.training import predict_proba

    net = load_net(md)
    if md.meta["model"] == "embedding":
        x, ok, bad = embeddings_for(paths, store=None)
    else:
        x, ok, bad = mels_for(paths, md.meta["mel"], store=None)
    p = np.full(len(ok), md.meta["prior"]) if net is None else predict_proba(net, x)
    return p, ok, bad


def evaluate_audio(md: Any, *, audio: Any, labels: Any, id_column: str | None = None, target: str | None = None):
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


def explain_audio(md: Any, *, song: Any) -> Any:
    """Occlusion over the song's mel spectrogram (:func:`trackscope.tasks.popularity.explain.occlusion`)."""
    from trackscope.tasks.popularity.explain import occlusion

    return occlusion(md, song=song)
