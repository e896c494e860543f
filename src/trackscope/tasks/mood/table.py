"""The mood workflow on Spotify-feature tables: train, evaluate, predict, explain.

:func:`train` follows the mood study (stratified 67/33 split with seed 42, standardised features, a logistic
regression baseline with 5-fold CV, then MLP, SVM, random forest, gradient boosting) and goes beyond it: every
family is grid-searched on the same folds, the model is chosen by CV (never by test), overfitting is flagged, and the
metrics carry the diagnostics (learning curve, confusion matrix, odds ratios when the saved model is the logistic
regression, permutation importance) that :mod:`trackscope.report.mood` puts in the model folder.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from typing import Any

from trackscope.constants import SPOTIFY_FEATURES
from trackscope.errors import ModelError, TableError, TrackscopeError
from trackscope.tasks.results import Explanation, TrainedModel

DEFAULT_LABEL = "mood"
CV_FOLDS = 5
LEARNING_SIZES = (0.25, 0.5, 0.75, 1.0)


def train(
    *,
    data: Any,
    label: str | None = None,
    features: Sequence[str] | None = None,
    test_size: float = 0.33,
    seed: int = 42,
    models: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    group_column: str | None = None,
    scaler: str | None = None,
    dedupe: str | None = "id",
) -> TrainedModel:
    """Train a mood classifier on a table of Spotify features.

    Parameters
    ----------
    data : path or pandas.DataFrame
        CSV or Parquet table (or a DataFrame) with the features and a label column.
    label : str
        Label column (default ``mood``).
    features : sequence of str, optional
        Feature columns (default: the study's 10 Spotify features).
    test_size, seed : float, int
        The held-out split (the study: 0.33, 42). Stratified by mood; grouped by ``group_column`` when given.
    models : sequence of str, optional
        Families to search, from :data:`trackscope.models.tabular.MODEL_NAMES` (default: all).
    progress : callable, optional
        ``progress(done, total)`` over every fit (grid search, learning curve).
    scaler : {"power", "standard"}, optional
        Feature scaling for the non-tree models (default ``power``: Yeo-Johnson then standardise).
    dedupe : str or None
        Drop repeated values of this column (default ``id``).

    Returns
    -------
    TrainedModel
        The chosen pipeline (fitted on the training split), its ``model.json`` description and the metrics
        (``metrics.json``): every model's scores, the chosen one's diagnostics, data, versions.
        :mod:`trackscope.report.mood` writes the folder (pipeline.skops, metrics.json, model_card.md, report.html).
    """
    import numpy as np

    from trackscope.evaluation import (
        cv_splitter,
        in_background,
        permutation_importance_later,
        stratified_split,
        warm_workers,
    )
    from trackscope.models.persist import skops_bytes
    from trackscope.models.tabular import DEFAULT_MODELS, DEFAULT_SCALER, MODEL_NAMES, SCALERS, choose, fit_models
    from trackscope.sources.tables import read_table

    label = label or DEFAULT_LABEL
    features = list(features or SPOTIFY_FEATURES)
    models = list(models or DEFAULT_MODELS)
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown:
        raise TrackscopeError(f"unknown model {', '.join(map(repr, unknown))}; choose from {', '.join(MODEL_NAMES)}")
    scaler = scaler or DEFAULT_SCALER
    if scaler not in SCALERS:
        raise TrackscopeError(f"unknown scaler {scaler!r}; choose from {', '.join(SCALERS)}")
    if not 0.0 < float(test_size) < 1.0:
        raise TrackscopeError(f"test_size (--test-size) must be between 0 and 1, got {test_size}")
    table = read_table(data, dedupe=dedupe).require(features, label, min_per_class=2)
    X, y = table.X(), table.y()  # noqa: N806
    # the search's worker processes start (and import scikit-learn) while this one splits the table
    fold_rows = int(len(y) * (1 - float(test_size)) * (CV_FOLDS - 1) / CV_FOLDS)
    workers = warm_workers(len(models) * 10, rows=fold_rows * (1 if set(models) <= {"logreg"} else 10))
    groups = None
    if group_column:
        col = table.column(group_column)
        raw = table.frame[col]
        groups = np.where(raw.isna(), [f"__row{i}" for i in range(len(raw))], raw.astype(str)).astype(str)
    try:
        tr, te = stratified_split(y, test_size=test_size, seed=seed, groups=groups)
    except ValueError as err:
        raise TableError(f"cannot split {len(y)} rows into train and test: {err}", path=table.path) from None
    missing_in_train = sorted(set(y) - set(y[tr]))
    if missing_in_train:
        raise TableError(f"classes {missing_in_train} have no rows in the training split; add rows", path=table.path)
    labels_tr, counts_tr = np.unique(y[tr], return_counts=True)
    too_few = [f"{c} ({n})" for c, n in zip(labels_tr, counts_tr, strict=True) if n < CV_FOLDS]
    if too_few:
        raise TableError(
            f"{CV_FOLDS}-fold cross-validation needs at least {CV_FOLDS} training rows per class; too few: "
            f"{', '.join(too_few)} — add rows or lower test_size (--test-size)",
            path=table.path,
        )
    cv = cv_splitter(y[tr], n_splits=CV_FOLDS, seed=seed, grouped=groups is not None)
    g_tr = None if groups is None else groups[tr]
    n_folds = cv.get_n_splits()

    # One progress bar over every fit: the grid searches, the refits and the learning curves.
    results = fit_models(
        X[tr],
        y[tr],
        models=models,
        cv=cv,
        groups=g_tr,
        seed=seed,
        scaler=scaler,
        progress=progress,
        curve_sizes=LEARNING_SIZES,
    )
    chosen = choose(results)
    # while this process gathers the metrics (and then draws the report), the idle workers permute the test columns
    # and serialise the chosen pipeline
    x_te, y_te = X[te], y[te]
    saved = in_background(workers, skops_bytes, chosen.estimator)  # the longest: first
    importance = permutation_importance_later(workers, chosen.estimator, x_te, y_te, n_repeats=10, seed=seed)
    metrics = collect_metrics(
        table=table,
        results=results,
        chosen=chosen,
        train_idx=tr,
        test_idx=te,
        curve=chosen.curve,
        importance=importance,
        settings={
            "label": label,
            "features": list(table.features),
            "test_size": float(test_size),
            "seed": int(seed),
            "models": models,
            "cv_folds": n_folds,
            "group_column": group_column,
            "scaler": scaler,
            "dedupe": dedupe,
        },
    )
    return TrainedModel(
        _meta(metrics, table.X()[tr]), metrics, sklearn={"pipeline": chosen.estimator}, serialized={"pipeline": saved}
    )


def collect_metrics(
    *,
    table: Any,
    results: list,
    chosen: Any,
    train_idx: Any,
    test_idx: Any,
    curve: dict,
    settings: dict,
    importance: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything ``metrics.json`` records: scores of every model, the chosen one's diagnostics, data, versions.
    ``importance``: waits for the chosen model's permutation importance on the test split (computed here if None)."""
    import numpy as np

    from trackscope._machine import versions
    from trackscope.evaluation import (
        OVERFIT_GAP,
        classification_metrics,
        describe_choice,
        overfit_flag,
        permutation_importance,
    )
    from trackscope.models.tabular import DESCRIPTIONS, logreg_odds_ratios

    X, y = table.X(), table.y()  # noqa: N806
    features = list(table.features)
    classes = [str(c) for c in chosen.estimator.classes_]
    y_tr, x_te, y_te = y[train_idx], X[test_idx], y[test_idx]
    models: dict[str, Any] = {}
    for r in results:
        pred = r.estimator.predict(x_te)
        m = classification_metrics(y_te, pred, classes)
        models[r.name] = {
            "cv_mean": r.cv_mean,
            "cv_std": r.cv_std,
            "cv_scores": r.cv_scores,
            "train_accuracy": r.train_accuracy,
            "test_accuracy": m["accuracy"],
            "test_macro_f1": m["macro_f1"],
            "gap": r.train_accuracy - r.cv_mean,
            "overfit": overfit_flag(r.train_accuracy, r.cv_mean),
            "params": r.params,
            "candidates": r.n_candidates,
            "seconds": round(r.seconds, 2),
            "grid": r.grid,
            "learning_curve": r.curve,
        }
    test = classification_metrics(y_te, chosen.estimator.predict(x_te), classes)
    # Coefficients explain a model only when it is linear: odds ratios when the saved model is the logistic
    # regression; any other family is interpreted by permutation importance alone (a separate logistic regression's
    # coefficients would describe a model that was not saved).
    odds = logreg_odds_ratios(chosen.estimator, features) or {}
    # scikit-learn's permutation importance (accuracy, 10 shuffles per column), each column's shuffles predicted at once
    if importance is None:
        perm = permutation_importance(chosen.estimator, x_te, y_te, n_repeats=10, seed=settings["seed"])
    else:
        perm = importance()
    frame = table.frame
    class_means = frame.groupby(table.label)[features].mean()
    stats = table.stats
    return {
        "task": "mood",
        "input": "table",
        "label": table.label,
        "classes": classes,
        "features": features,
        "chosen_model": chosen.name,
        "chosen_family": DESCRIPTIONS.get(chosen.name, chosen.name),
        "chosen_params": chosen.params,
        "chosen_by": f"highest mean {settings['cv_folds']}-fold CV accuracy on the training split",
        "choice": describe_choice(models, chosen.name, score="accuracy"),
        "interpretation": "odds ratios and permutation importance" if odds else "permutation importance",
        "cv": {r.name: {"mean": r.cv_mean, "std": r.cv_std} for r in results},
        "models": models,
        "overfit_gap_threshold": OVERFIT_GAP,
        "test": test,
        "split": {
            "test_size": settings["test_size"],
            "seed": settings["seed"],
            "stratified": True,
            "grouped_by": settings.get("group_column"),
            "train_rows": int(len(train_idx)),
            "test_rows": int(len(test_idx)),
            "class_counts": {
                "train": {c: int(np.sum(y_tr == c)) for c in classes},
                "test": {c: int(np.sum(y_te == c)) for c in classes},
            },
        },
        "data": {
            "path": str(table.path),
            "sha256": table.sha256,
            "rows": int(len(table)),
            "rows_read": stats["rows_read"],
            "duplicates_dropped": stats["duplicates_dropped"],
            "missing_dropped": stats["missing_dropped"],
            "renamed_columns": stats.get("renamed", {}),
        },
        "class_means": {c: {f: float(class_means.loc[c, f]) for f in features} for c in class_means.index},
        "learning_curve": curve,
        "odds_ratios": odds,
        "permutation_importance": {
            f: {"mean": float(perm["importances_mean"][j]), "std": float(perm["importances_std"][j])}
            for j, f in enumerate(features)
        },
        "parameters": settings,
        "versions": versions(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _meta(metrics: dict[str, Any], x_train: Any) -> dict[str, Any]:
    """``model.json`` of a table mood model: what it reads, and the training split's means and sds (for explain)."""
    features = metrics["features"]
    return {
        "task": "mood",
        "input": "table",
        "classes": metrics["classes"],
        "label": metrics["label"],
        "features": features,
        "feature_means": {f: float(v) for f, v in zip(features, x_train.mean(axis=0), strict=True)},
        "feature_sds": {f: float(v) for f, v in zip(features, x_train.std(axis=0), strict=True)},
        "chosen_model": metrics["chosen_model"],
        "data_sha256": metrics["data"]["sha256"],
        "test": {k: metrics["test"][k] for k in ("accuracy", "macro_f1", "n")},
        "created": metrics["date"],
    }


# -- using a saved model ----------------------------------------------------------------------------------------------


def _model(md: Any) -> tuple[Any, list[str], list[str], str]:
    meta = md.meta
    try:
        features, classes = list(meta["features"]), [str(c) for c in meta["classes"]]
    except KeyError as err:
        raise ModelError(f"model.json lacks {err.args[0]!r}", path=md.path) from None
    return md.load_sklearn("pipeline"), features, classes, str(meta.get("label", DEFAULT_LABEL))


def evaluate(
    md: Any,
    *,
    data: Any = None,
    label: str | None = None,
    label_map: str | dict[str, str] | None = None,
) -> dict[str, Any]:
    """Score a saved mood model on another labelled table.

    Labels are matched to the model's classes case-insensitively after ``label_map`` (``"calm=Relaxing,sad=Dark"``);
    rows whose label the model never learned are excluded and counted (``excluded``, ``excluded_labels``).
    ``misclassified`` lists every wrong row (``id``: the table's ``id`` column, else the row number as in
    ``predict``'s ``row``; ``true``, ``predicted``, ``confidence``), the most confident first; classes the table
    lacks are left out of ``per_class`` and named in ``absent_classes``.
    """
    if data is None:
        raise TrackscopeError("a table mood model is evaluated on a table: give data= (--data FILE)", path=md.path)
    import numpy as np

    from trackscope.evaluation import classification_metrics, match_labels, parse_label_map
    from trackscope.sources.tables import read_table

    pipe, features, classes, model_label = _model(md)
    try:
        mapping = parse_label_map(label_map)
    except ValueError as err:
        raise TrackscopeError(f"label_map (--label-map): {err}") from None
    table = read_table(data).require(features, label or model_label, min_per_class=None)
    raw = table.y()
    matched = np.array(match_labels(raw, classes, mapping), dtype=object)
    keep = np.array([m is not None for m in matched])
    excluded_labels: dict[str, int] = {}
    for v in raw[~keep]:
        excluded_labels[str(v)] = excluded_labels.get(str(v), 0) + 1
    if not keep.any():
        raise TableError(
            f"no label in column {table.label!r} matches the model's classes {classes} "
            f"(found {sorted(excluded_labels)}); map them with label_map (--label-map), e.g. "
            f'"{next(iter(excluded_labels))}={classes[0]}"',
            path=table.path,
        )
    x = table.X()[keep]
    proba = pipe.predict_proba(x)
    model_classes = [str(c) for c in pipe.classes_]
    pred = np.asarray(pipe.predict(x))
    frame = table.frame.loc[keep]
    ids = frame["id"].astype(str).tolist() if "id" in frame.columns else [int(i) for i in frame.index]
    result = classification_metrics(
        matched[keep].astype(str), pred.astype(str), classes, ids=ids, proba=proba, proba_labels=model_classes
    )
    result.update(
        {
            "excluded": int((~keep).sum()),
            "excluded_labels": excluded_labels,
            "label_map": mapping,
            "model": str(md.path),
            "data": {
                "path": str(table.path),
                "sha256": table.sha256,
                "rows_read": table.stats["rows_read"],
                "duplicates_dropped": table.stats["duplicates_dropped"],
                "missing_dropped": table.stats["missing_dropped"],
            },
        }
    )
    return result


def predict(md: Any, *, data: Any = None) -> Any:
    """Mood and class probabilities for every row of a table (a pandas DataFrame).

    Identifying columns (``id``, ``name``, ``artist``) are kept; rows with a missing feature are skipped and counted
    in ``frame.attrs["missing_dropped"]``.
    """
    if data is None:
        raise TrackscopeError("a table mood model predicts from a table: give data= (--data FILE)", path=md.path)
    import numpy as np
    import pandas as pd

    from trackscope.sources.tables import read_table

    pipe, features, classes, _ = _model(md)
    table = read_table(data, dedupe=None).require(features, None)
    proba = pipe.predict_proba(table.X())
    model_classes = [str(c) for c in pipe.classes_]
    keep = [c for c in ("id", "name", "artist") if c in table.frame.columns]
    out = table.frame[keep].reset_index(names="row")
    best = np.argmax(proba, axis=1)
    out["mood"] = [model_classes[i] for i in best]
    out["confidence"] = proba[np.arange(len(best)), best]
    for j, c in enumerate(model_classes):
        out[f"p_{c}"] = proba[:, j]
    out = pd.DataFrame(out)
    out.attrs["missing_dropped"] = table.stats["missing_dropped"]
    return out


def explain(md: Any, *, data: Any = None, row: int = 0) -> Explanation:
    """Why the model gives row ``row`` (0 = first data row) of ``data`` its mood.

    Each feature's effect is the drop in the predicted mood's probability when that feature alone is set to its
    training mean (positive: the feature pushes towards this mood); :mod:`trackscope.report.mood` draws them.
    """
    if data is None:
        raise TrackscopeError(
            "a table mood model explains a table row: give data= and row= (--data FILE --row N)", path=md.path
        )
    import numpy as np

    from trackscope.sources.tables import read_table

    pipe, features, classes, _ = _model(md)
    table = read_table(data, dedupe=None).require(features, None)
    if row not in table.frame.index:
        raise TableError(
            f"row {row} is not in the table (or has missing values); rows 0–{len(table) - 1}", path=table.path
        )
    x = table.frame.loc[[row], features].to_numpy(dtype=float)
    means = np.array([md.meta["feature_means"][f] for f in features])
    sds = np.array([md.meta["feature_sds"][f] for f in features])
    proba = pipe.predict_proba(x)[0]
    model_classes = [str(c) for c in pipe.classes_]
    best = int(np.argmax(proba))
    probe = np.repeat(x, len(features), axis=0)
    probe[np.arange(len(features)), np.arange(len(features))] = means
    effects = proba[best] - pipe.predict_proba(probe)[:, best]
    rows = [
        {
            "feature": f,
            "value": float(x[0, j]),
            "train_mean": float(means[j]),
            "z": float((x[0, j] - means[j]) / sds[j]) if sds[j] > 0 else 0.0,
            "effect": float(effects[j]),
        }
        for j, f in enumerate(features)
    ]
    rows.sort(key=lambda r: -abs(r["effect"]))
    result: dict[str, Any] = {"row": int(row)}
    for c in ("id", "name", "artist"):
        if c in table.frame.columns:
            result[c] = str(table.frame.at[row, c])
    result.update(
        {
            "mood": model_classes[best],
            "confidence": float(proba[best]),
            "probabilities": {c: float(p) for c, p in zip(model_classes, proba, strict=True)},
            "contributions": rows,
        }
    )
    return Explanation(result)
