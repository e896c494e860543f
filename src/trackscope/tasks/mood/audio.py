"""Mood from audio: pooled musicnn embeddings + descriptors → a scikit-learn classifier, chosen by grouped CV.

Labels come from a CSV (``song_id, quadrant, artist``, …); audio is found under a folder by id. Model families:
logistic regression, RBF SVM, gradient boosting, a small MLP and a soft-voting ensemble of the first three that
train in seconds. Cross-validation groups by ``group_column`` (the artist) so no artist is on both sides of a fold:
the score is for unseen artists, which is what a user's new songs are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trackscope.constants import QUADRANT_AV, QUADRANT_WORDS
from trackscope.errors import ModelError, TrackscopeError
from trackscope.tasks.results import Explanation, TrainedModel

AUDIO_MODELS = ("logreg", "svm", "gbm", "mlp", "ensemble")
DEFAULT_AUDIO_MODELS = ("logreg", "svm", "mlp", "ensemble")


def _candidates(names: Sequence[str], seed: int, n_features: int) -> dict[str, tuple[Any, dict[str, list[Any]]]]:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from trackscope.models.preprocess import DropNearConstant, GapBins

    def pipe(est: Any, pca: bool = False) -> Pipeline:
        # near-constant columns out first: no scaler divides by rounding noise; trees split on codes whose edges lie
        # between training values (trackscope.models.preprocess)
        steps: list[tuple[str, Any]] = [("drop", DropNearConstant())]
        steps.append(
            ("bins", GapBins(max_bins=255))
            if isinstance(est, HistGradientBoostingClassifier)
            else ("scale", StandardScaler())
        )
        if pca:
            steps.append(("pca", PCA(n_components=0.95, svd_solver="full", random_state=seed)))
        steps.append(("clf", est))
        return Pipeline(steps)

    logreg = LogisticRegression(max_iter=3000, C=0.01)
    # SVC(probability=True) is deprecated in scikit-learn 1.9: calibrate the decision function instead.
    svm = CalibratedClassifierCV(SVC(C=1.0, gamma="scale"), ensemble=False, cv=3)
    mlp = MLPClassifier(hidden_layer_sizes=(64,), alpha=1.0, max_iter=800, early_stopping=False, random_state=seed)
    out: dict[str, tuple[Any, dict[str, list[Any]]]] = {
        "logreg": (pipe(logreg), {"clf__C": [0.001, 0.003, 0.01, 0.03, 0.1]}),
        "svm": (pipe(svm), {"clf__estimator__C": [0.3, 1.0, 3.0, 10.0]}),
        "gbm": (
            pipe(
                HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=seed)
            ),
            {"clf__l2_regularization": [0.0, 1.0]},
        ),
        "mlp": (pipe(mlp, pca=True), {"clf__alpha": [0.3, 1.0, 3.0], "clf__hidden_layer_sizes": [(32,), (64,)]}),
    }
    vote = VotingClassifier(
        [
            ("logreg", LogisticRegression(max_iter=3000, C=0.01)),
            ("svm", CalibratedClassifierCV(SVC(C=1.0, gamma="scale"), ensemble=False, cv=3)),
            ("mlp", MLPClassifier(hidden_layer_sizes=(64,), alpha=1.0, max_iter=800, random_state=seed)),
        ],
        voting="soft",
    )
    out["ensemble"] = (pipe(vote), {})
    return out


def _cv(y: Sequence[str], groups: Sequence[str] | None, folds: int, seed: int) -> Any:
    """Stratified folds that keep each group (artist, or clip: a clip's windows) on one side."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if groups is not None:
        return StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)


def train(
    *,
    audio: str | Path,
    labels: str | Path,
    id_column: str | None = None,
    label: str | None = None,
    group_column: str | None = None,
    models: Sequence[str] | None = None,
    seed: int = 42,
    folds: int = 5,
    progress: Callable[[int, int], None] | None = None,
    workers: int | str = 1,
    engine: str = "local",
    ray_address: str | None = "auto",
) -> TrainedModel:
    """Train a mood model on labelled audio; returns the chosen pipeline (refitted on every clip), its novelty
    arrays and the metrics (:mod:`trackscope.report.mood_audio` writes the folder). Clip features not yet cached are
    computed in ``workers`` processes (1: this one; ``"auto"``: one per core), or on a Ray cluster with
    ``engine="ray"`` (``ray_address``: see :mod:`trackscope._ray`)."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, cross_val_predict

    from trackscope.evaluation import classification_metrics
    from trackscope.features.song import clip_matrix, clip_proba, feature_config
    from trackscope.sources.audio_dirs import find_labelled_audio

    id_column = id_column or "song_id"
    label = label or "quadrant"
    chosen_models = list(models or DEFAULT_AUDIO_MODELS)
    unknown = [m for m in chosen_models if m not in AUDIO_MODELS]
    if unknown:
        raise TrackscopeError(f"unknown model(s) {unknown}; choose from {', '.join(AUDIO_MODELS)}")
    data = find_labelled_audio(audio, labels, id_column=id_column, label=label, group_column=group_column)
    config = feature_config()
    rows = clip_matrix(data.paths, config, progress=progress, workers=workers, engine=engine, ray_address=ray_address)
    kept, failures, names = rows.kept, rows.failures, rows.names
    if len(kept) == 0:
        raise TrackscopeError("no labelled clip could be decoded", path=audio)
    clip_y = np.array([data.labels[i] for i in kept])
    # One row per 30-s window (the one window rule); a clip's windows always fall in the same fold: grouped by
    # artist when a group column is given, else by clip.
    x = rows.x
    y = clip_y[rows.clip]
    groups = np.array([data.groups[i] for i in kept])[rows.clip] if data.groups else np.asarray(rows.clip).astype(str)
    classes, counts = np.unique(clip_y, return_counts=True)
    if len(classes) < 2:
        raise TrackscopeError(f"need at least 2 classes in column {label!r}, found {list(classes)}", path=labels)
    small = [f"{c} ({n})" for c, n in zip(classes, counts, strict=True) if n < folds]
    if small:
        raise TrackscopeError(f"classes with fewer than {folds} clips cannot be cross-validated: {small}", path=labels)
    cv = _cv(y, groups, folds, seed)
    grouped = bool(data.groups)
    results: dict[str, Any] = {}
    best_name, best_score, best_est = None, -1.0, None
    for name, (est, grid) in _candidates(names, seed, x.shape[1]).items():
        if name not in chosen_models:
            continue
        search = GridSearchCV(est, grid or {}, scoring="f1_macro", cv=cv, n_jobs=1, return_train_score=True)
        search.fit(x, y, groups=groups)
        i = search.best_index_
        results[name] = {
            "mean": float(search.cv_results_["mean_test_score"][i]),
            "std": float(search.cv_results_["std_test_score"][i]),
            "train": float(search.cv_results_["mean_train_score"][i]),
            "params": {k: v for k, v in search.best_params_.items()},
        }
        if results[name]["mean"] > best_score:
            best_name, best_score, best_est = name, results[name]["mean"], search.best_estimator_
    assert best_est is not None and best_name is not None
    # Out-of-fold, per clip as `predict` and `evaluate` see it: window probabilities averaged over each clip.
    oof_rows = cross_val_predict(clone(best_est), x, y, groups=groups, cv=cv, method="predict_proba")
    oof_proba = clip_proba(oof_rows, rows)
    oof = [str(classes[i]) for i in oof_proba.argmax(axis=1)]
    oof_metrics = classification_metrics(list(clip_y), oof, list(classes))
    final = clone(best_est).fit(x, y)
    from trackscope.models import novelty

    novelty_arrays = novelty.fit(x, seed=seed) if x.shape[0] >= 2 * novelty.FOLDS else None
    metrics = _metrics_dict(
        data=data,
        labels_path=Path(labels),
        y=clip_y,
        classes=classes,
        results=results,
        best=best_name,
        oof=oof_metrics,
        failures=failures,
        config=config,
        seed=seed,
        folds=folds,
        grouped=grouped,
    )
    meta = {
        "task": "mood",
        "input": "audio",
        "classes": list(classes),
        "label": label,
        "id_column": id_column,
        "features": config,
        "feature_names": names,
        "chosen_model": metrics["chosen_model"],
    }
    # novelty: how unlike the training clips an input is (trackscope.models.novelty)
    tensors = {"novelty": novelty_arrays} if novelty_arrays is not None else {}
    # the head as arrays too, when it has a portable form: one song is then answered without importing
    # scikit-learn or skops (~2.5 s); checked against the pipeline on the training rows
    from trackscope.models import portable

    exported = portable.export(final, x)
    if exported is not None:
        tensors["head"], meta["head"] = exported
    return TrainedModel(meta, metrics, sklearn={"pipeline": final}, tensors=tensors)


def _metrics_dict(**kw: Any) -> dict[str, Any]:
    import datetime

    import numpy as np

    from trackscope._hash import file_sha256
    from trackscope._machine import machine, versions
    from trackscope.evaluation import overfit_flag

    y, classes = kw["y"], kw["classes"]
    best = kw["best"]
    return {
        "task": "mood",
        "input": "audio",
        "classes": [str(c) for c in classes],
        "chosen_model": best,
        "cv": kw["results"],
        # The same in the shape the table workflow uses (CLI table, reports): train is macro-F1 on the training folds.
        "models": {
            name: {
                "cv_mean": r["mean"],
                "cv_std": r["std"],
                "train_macro_f1": r["train"],
                "gap": r["train"] - r["mean"],
                "overfit": overfit_flag(r["train"], r["mean"]),
                "params": r["params"],
            }
            for name, r in kw["results"].items()
        },
        "cv_protocol": {
            "folds": kw["folds"],
            "grouped_by": "group column" if kw["grouped"] else "clip",
            "rows": "one per 30-s window (trackscope.features.song: the one window rule)",
            "scoring": "macro_f1",
            "seed": kw["seed"],
        },
        # Out-of-fold predictions of the chosen model's family: every clip scored by a model that never saw it
        # (nor, when grouped, its artist). The headline number for unseen artists.
        "oof": kw["oof"],
        "test": {
            "accuracy": kw["oof"]["accuracy"],
            "macro_f1": kw["oof"]["macro_f1"],
            "n": kw["oof"]["n"],
            "protocol": "out-of-fold (grouped CV)",
        },
        "data": {
            "rows": int(len(y)),
            "labels_file": kw["labels_path"].name,
            "sha256": file_sha256(kw["labels_path"]),
            "missing_audio": len(kw["data"].missing),
            "failed_audio": [{"path": p, "reason": r} for p, r in kw["failures"]],
            "class_counts": {str(c): int(n) for c, n in zip(*np.unique(y, return_counts=True), strict=True)},
        },
        "features": kw["config"],
        "versions": versions(),
        # the features behind these numbers were computed here, from the audio (never a cache from elsewhere)
        "machine": machine(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _load(md: Any) -> tuple[Any, list[str], dict[str, Any]]:
    """The model's head (its portable arrays when saved, else the skops pipeline; loaded once per open model),
    classes and feature configuration."""
    if md.input != "audio":
        raise ModelError("not an audio mood model", path=md.path)
    head = md.__dict__.get("_head")
    if head is None:
        if md.meta.get("head") and "head.safetensors" in md.meta.get("files", {}):
            from trackscope.models.portable import PortableHead

            try:
                head = PortableHead(md.load_tensors("head"), md.meta["head"])
            except (KeyError, ValueError) as err:
                raise ModelError(f"head.safetensors: {err}", path=md.path) from None
        else:
            head = md.load_sklearn("pipeline")
        md.__dict__["_head"] = head
    return head, list(md.meta["classes"]), dict(md.meta["features"])


def _novelty(md: Any) -> dict[str, Any] | None:
    """The model's novelty arrays (:mod:`trackscope.models.novelty`), or None for a model saved without them."""
    if "novelty.safetensors" not in md.meta.get("files", {}):
        return None
    from trackscope.models import novelty

    arrays = md.load_tensors("novelty")
    try:
        novelty.check(arrays, len(md.meta.get("feature_names", [])))
    except ValueError as err:
        raise ModelError(f"novelty.safetensors: {err}", path=md.path) from None
    return arrays


def _check_names(md: Any, names: Sequence[str]) -> None:
    if list(names) != list(md.meta.get("feature_names", names)):
        raise ModelError(
            "this model was trained on a different feature set (another trackscope or musicnn version); retrain it",
            path=md.path,
        )


def mood_columns(classes: Sequence[str], proba: Any) -> dict[str, Any]:
    """Mood, words, arousal and valence from class probabilities (arousal/valence only for quadrant classes)."""
    import numpy as np

    proba = np.asarray(proba, dtype=float)
    best = int(np.argmax(proba))
    mood = str(classes[best])
    row: dict[str, Any] = {"mood": mood, "mood_words": QUADRANT_WORDS.get(mood, mood), "confidence": float(proba[best])}
    if set(classes) <= set(QUADRANT_AV):
        row["arousal"] = float(sum(p * QUADRANT_AV[c][0] for c, p in zip(classes, proba, strict=True)))
        row["valence"] = float(sum(p * QUADRANT_AV[c][1] for c, p in zip(classes, proba, strict=True)))
    for c, p in zip(classes, proba, strict=True):
        row[f"p_{c}"] = float(p)
    return row


def evaluate(
    md: Any,
    *,
    audio: str | Path | None = None,
    labels: str | Path | None = None,
    id_column: str | None = None,
    label: str | None = None,
    label_map: str | dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    from trackscope.evaluation import classification_metrics, match_labels, parse_label_map
    from trackscope.features.song import clip_matrix, clip_proba
    from trackscope.sources.audio_dirs import find_labelled_audio

    if audio is None or labels is None:
        raise TrackscopeError(
            "an audio mood model is evaluated on labelled audio: give audio= and labels= (--audio DIR --labels FILE)"
        )
    pipeline, classes, config = _load(md)
    id_column = id_column or md.meta.get("id_column", "song_id")
    label = label or md.meta.get("label", "quadrant")
    data = find_labelled_audio(audio, labels, id_column=id_column, label=label)
    try:
        mapping = parse_label_map(label_map)
    except ValueError as err:
        raise TrackscopeError(f"label_map (--label-map): {err}") from None
    mapped = match_labels(data.labels, classes, mapping)
    keep = [i for i, m in enumerate(mapped) if m is not None]
    excluded = len(mapped) - len(keep)
    if not keep:
        raise TrackscopeError(f"no label in {label!r} matches the model's classes {classes}", path=labels)
    rows = clip_matrix([data.paths[i] for i in keep], config, progress=progress)
    kept, failures = rows.kept, rows.failures
    if not kept:
        raise TrackscopeError("no clip could be decoded", path=audio)
    _check_names(md, rows.names)
    y_true = [mapped[keep[i]] for i in kept]
    # the clip's windows averaged, exactly as `predict` and `analyze` score a song
    order = [list(pipeline.classes_).index(c) for c in classes]
    proba = clip_proba(pipeline.predict_proba(rows.x)[:, order], rows)
    y_pred = [str(classes[i]) for i in proba.argmax(axis=1)]
    ids = [str(data.paths[keep[i]]) for i in kept]
    result = classification_metrics(y_true, y_pred, classes, ids=ids, proba=proba)
    result.update(
        {
            "excluded": excluded,
            "missing_audio": len(data.missing),
            "failed": [{"path": p, "reason": r} for p, r in failures],
        }
    )
    return result


def predict(md: Any, *, songs: Sequence[str | Path] | None = None) -> Any:
    """Mood per song (whole song: 30-s windows averaged), with probabilities, arousal and valence."""
    import pandas as pd

    return pd.DataFrame(predict_rows(md, songs=songs))


def predict_rows(md: Any, *, songs: Sequence[str | Path] | None = None) -> list[dict[str, Any]]:
    """:func:`predict`'s rows as dictionaries (an unreadable song: ``path`` and ``error`` only), without pandas —
    which the CLI needs only to write ``--out`` (its import is ~0.4 s and ~70 MB of a one-song answer)."""
    from trackscope.sources.audio_dirs import walk_audio

    if not songs:
        raise TrackscopeError("an audio mood model predicts from audio files or folders")
    files, problems = walk_audio(songs)
    rows = []
    for f in files:
        try:
            rows.append({"path": str(f), **predict_song(md, f)["song"]})
        except TrackscopeError as err:
            rows.append({"path": str(f), "error": err.reason})
    rows.extend({"path": p, "error": r} for p, r in problems)
    return rows


def predict_song(md: Any, path: str | Path, features: Any = None, *, mel_columns: int | None = None) -> dict[str, Any]:
    """Per-window and whole-song mood of one file; ``features`` may pass precomputed :class:`SongFeatures`;
    ``mel_columns``: keep the song's mel for a picture (see :func:`trackscope.features.song.song_features`)."""
    import numpy as np

    from trackscope.features.song import song_features

    pipeline, classes, config = _load(md)
    sf = features or song_features(path, config, mel_columns=mel_columns)
    _check_names(md, sf.names)
    proba = pipeline.predict_proba(sf.vectors)
    order = [list(pipeline.classes_).index(c) for c in classes]
    proba = proba[:, order]
    weights = np.asarray(sf.durations) / max(sum(sf.durations), 1e-9)
    song = mood_columns(classes, (proba * weights[:, None]).sum(axis=0))
    windows = [
        {"start": s, "duration": d, **mood_columns(classes, p)}
        for s, d, p in zip(sf.starts, sf.durations, proba, strict=True)
    ]
    arrays = _novelty(md)
    if arrays is not None:
        from trackscope.models import novelty

        dist = novelty.distance(arrays, sf.vectors)
        ref = np.asarray(arrays["reference"])
        scores = np.searchsorted(ref, dist, side="right") / len(ref)
        song_score = float(np.searchsorted(ref, float((dist * weights).sum()), side="right") / len(ref))
        for target, value in ((song, song_score), *zip(windows, scores.tolist(), strict=True)):
            target["novelty"] = round(float(value), 4)
            target["unusual"] = bool(value > novelty.UNUSUAL)
    return {"song": song, "windows": windows, "features": sf, "proba": proba}


def why_song(md: Any, res: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The stretches of a song that pull it toward each mood (:func:`trackscope.tasks.mood.why.stretches`), from
    what :func:`predict_song` returned; None for a silent song."""
    from trackscope.tasks.mood.why import stretches

    head, classes, _ = _load(md)
    return stretches(head, classes, res["features"], res["proba"])


def explain(md: Any, *, song: str | Path | None = None) -> Explanation:
    """Why a song gets its mood: which stretches of it pull it toward each mood (occlusion over time, see
    :mod:`trackscope.tasks.mood.why`), a sentence saying so, and the mood of every 30-s window. ``why`` is the same
    list ``analyze`` gives each song: ``{"start", "end", "effects": {class: Δp}, "toward"}`` per stretch."""
    from trackscope.tasks.mood.why import METHOD, summary

    if song is None:
        raise TrackscopeError(
            "an audio mood model explains an audio file: give song= (trackscope explain MODEL SONG)", path=md.path
        )
    _, classes, _ = _load(md)
    res = predict_song(md, song)
    if res["features"].silent:  # as analyze: digital silence has no mood
        res["song"] = {k: None for k in res["song"]} | {"mood_words": "silent"}
        for w in res["windows"]:
            w.update({k: None for k in w if k not in ("start", "duration")}, mood_words="silent")
    why = why_song(md, res)
    result = {
        "song": str(song),
        **res["song"],
        "summary": summary(why, res["song"]["mood"], classes),
        "method": METHOD,
        "why": why,
        "windows": res["windows"],
    }
    return Explanation(result)
