"""Hit potential from Spotify tables: audio features + release metadata → dummy, logreg, gbm, rf, mlp.

The study predicted popularity from audio alone and named non-audio factors as its next step; a table brings some
(release year and month, explicit), added whenever present unless ``metadata=False``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from trackscope.constants import POPULARITY_CLASSES, SPOTIFY_FEATURES
from trackscope.errors import TableError
from trackscope.features import metadata as fmeta
from trackscope.models import splits as msplits
from trackscope.tasks.results import Explanation, TrainedModel

TABLE_MODELS: tuple[str, ...] = ("dummy", "logreg", "gbm", "rf", "mlp")
MIN_ROWS = 20  # below this the 10 % holdout has one or two rows and no ROC-AUC can be computed


def make_model(name: str, seed: int) -> Any:
    """A fresh scikit-learn estimator for ``name``; every one accepts NaN (imputed, or native in gbm)."""
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # no scaler divides by rounding noise; no tree splits on a value (trackscope.models.preprocess)
    from trackscope.models.preprocess import DropNearConstant, GapBins

    if name == "dummy":
        return DummyClassifier(strategy="prior")
    if name == "logreg":
        return make_pipeline(
            SimpleImputer(strategy="median"), DropNearConstant(), StandardScaler(), LogisticRegression(max_iter=2000)
        )
    if name == "gbm":
        # trees split on rounding noise too (binned, a 1e-14 jitter is as good as any split): drop it first
        return make_pipeline(
            DropNearConstant(),
            GapBins(max_bins=255),
            HistGradientBoostingClassifier(
                max_iter=300, learning_rate=0.04, max_leaf_nodes=15, min_samples_leaf=20, random_state=seed
            ),
        )
    if name == "rf":
        return make_pipeline(
            SimpleImputer(strategy="median"),
            DropNearConstant(),
            GapBins(),
            RandomForestClassifier(n_estimators=300, min_samples_leaf=5, max_features=0.5, n_jobs=1, random_state=seed),
        )
    if name == "mlp":
        return make_pipeline(
            SimpleImputer(strategy="median"),
            DropNearConstant(),
            StandardScaler(),
            MLPClassifier((64, 32), alpha=1e-3, early_stopping=True, max_iter=500, random_state=seed),
        )
    raise TableError(f"unknown table model {name!r} (choose from {', '.join(TABLE_MODELS)})")


def feature_frame(table_frame: Any, features: Sequence[str], metadata: Sequence[str] | None, *, path: Any) -> Any:
    """The model's input columns: audio features as floats (NaN when missing) + the metadata features."""
    import pandas as pd

    x = pd.DataFrame(index=table_frame.index)
    for col in features:
        x[col] = pd.to_numeric(table_frame[col], errors="coerce").astype(float)
    if metadata:
        meta = fmeta.metadata_features(table_frame, wanted=metadata)
        for col in metadata:
            x[col] = meta[col] if col in meta.columns else np.nan
    return x


def check_columns(table: Any, needed: Sequence[str]) -> None:
    """Stop with a TableError naming the first column the model needs and the table lacks."""
    missing = [c for c in needed if c not in table.frame.columns]
    if missing:
        raise TableError(
            f"the model needs column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}, which this "
            f"table lacks (columns: {', '.join(map(str, table.frame.columns))})",
            path=table.path,
        )


def load_table(data: Any, *, target: str, features: Sequence[str] | None, metadata: bool, group_column: str | None):
    """Read, dedupe and check a training table; returns ``(frame, X, scores, groups, info)``."""
    from trackscope.sources.tables import normalize_name, read_table

    table = read_table(data, dedupe=None)
    target_c = normalize_name(target)
    if target_c not in table.frame.columns:
        raise TableError(
            f"no popularity column {target!r} (columns: {', '.join(map(str, table.frame.columns))}); "
            "name it with target= (--target)",
            path=table.path,
        )
    deduped, counts = msplits.dedupe(table.frame, target=target_c)
    feats = [normalize_name(f) for f in (features or SPOTIFY_FEATURES)]
    table = replace(table, frame=deduped).require([*feats, target_c], min_per_class=None)
    frame = table.frame
    group_c = table.column(group_column) if group_column else None
    meta_cols = list(fmeta.metadata_features(frame).columns) if metadata else []
    x = feature_frame(frame, feats, meta_cols, path=table.path)
    info = {
        "path": str(table.path),
        "sha256": table.sha256,
        "dedupe": {**counts, "missing_dropped": table.stats["missing_dropped"], "rows": len(frame)},
        "features": feats,
        "metadata_features": meta_cols,
        "required_columns": feats + sorted({fmeta.metadata_source(c) for c in meta_cols}),
        "target": target_c,
        "group_column": group_c,
    }
    groups = frame[group_c].astype(str).to_numpy() if group_c else None
    return frame, x, frame[target_c].to_numpy(dtype=float), groups, info


def calibration_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict[str, list[float]]:
    """Mean predicted probability vs observed share of popular songs, in quantile bins of the prediction."""
    from sklearn.calibration import calibration_curve

    if len(np.unique(y)) < 2 or len(y) < n_bins:
        return {"predicted": [], "observed": []}
    observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy="quantile")
    return {"predicted": predicted.tolist(), "observed": observed.tolist()}


def permutation_importance(model: Any, x: Any, y: np.ndarray, *, seed: int, n_repeats: int = 5) -> list[dict]:
    """Mean drop of ROC-AUC when a column is shuffled (sklearn's permutation importance), largest first."""
    from sklearn.inspection import permutation_importance as pi

    if len(np.unique(y)) < 2:
        return []
    res = pi(model, x, y, scoring="roc_auc", n_repeats=n_repeats, random_state=seed, n_jobs=1)
    rows = [
        {"feature": c, "importance": float(m), "std": float(s)}
        for c, m, s in zip(x.columns, res.importances_mean, res.importances_std, strict=True)
    ]
    return sorted(rows, key=lambda r: -r["importance"])


def train_table(
    *,
    data: Any,
    target: str = "popularity",
    models: Sequence[str] | None = None,
    threshold: Any = "auto",
    group_column: str | None = None,
    features: Sequence[str] | None = None,
    metadata: bool = True,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TrainedModel:
    """Train every table model and pick the best on the test split; returns it with its metrics."""
    from trackscope._machine import versions
    from trackscope.models.training import roc_auc

    names = [m.lower() for m in (models or TABLE_MODELS)]
    for m in names:
        make_model(m, seed)  # unknown names fail before any work
    frame, x, scores, groups, info = load_table(
        data, target=target, features=features, metadata=metadata, group_column=group_column
    )
    if len(frame) < MIN_ROWS:
        raise TableError(
            f"{len(frame)} usable rows after dedupe; a 75/15/10 train/test/holdout split needs at least {MIN_ROWS}",
            path=info["path"],
        )
    splits = msplits.split_indices(len(frame), seed=seed, groups=groups)
    try:
        cut, th_info = msplits.resolve_threshold(threshold, scores[splits["train"]])
    except ValueError as err:
        raise TableError(str(err), path=info["path"]) from None
    y = (scores >= cut).astype(int)
    if len(np.unique(y[splits["train"]])) < 2:
        raise TableError(f"threshold {cut:g} puts every training row in one class; choose another", path=info["path"])

    results: dict[str, dict[str, Any]] = {}
    fitted: dict[str, Any] = {}
    for i, name in enumerate(names):
        model = make_model(name, seed).fit(x.iloc[splits["train"]], y[splits["train"]])
        fitted[name] = model
        row: dict[str, Any] = {}
        for split in ("test", "holdout"):
            idx = splits[split]
            p = model.predict_proba(x.iloc[idx])[:, 1] if len(idx) else np.zeros(0)
            row[f"{split}_accuracy"] = float(np.mean((p >= 0.5) == y[idx])) if len(idx) else float("nan")
            row[f"{split}_roc_auc"] = roc_auc(y[idx], p)
        results[name] = row
        if progress is not None:
            progress(i + 1, len(names))

    def _score(n: str) -> tuple[float, float]:  # test ROC-AUC, then test accuracy breaks ties
        v, a = results[n]["test_roc_auc"], results[n]["test_accuracy"]
        return (-1.0 if v is None or np.isnan(v) else v, -1.0 if a is None or np.isnan(a) else a)

    candidates = [n for n in names if n != "dummy"] or names
    chosen = max(candidates, key=_score)
    model = fitted[chosen]
    test, hold = splits["test"], splits["holdout"]
    importance = permutation_importance(model, x.iloc[test], y[test], seed=seed)
    cal_idx = hold if len(np.unique(y[hold])) == 2 else test
    calibration = calibration_bins(y[cal_idx], model.predict_proba(x.iloc[cal_idx])[:, 1])
    medians = {c: (float(v) if np.isfinite(v) else None) for c, v in x.iloc[splits["train"]].median().items()}

    metrics = {
        "task": "popularity",
        "input": "table",
        "models": results,
        "chosen_model": chosen,
        "threshold": cut,
        "threshold_rule": th_info,
        "data": info,
        "splits": msplits.split_summary(splits, y, groups),
        "importance": importance,
        "calibration": calibration,
        "parameters": {
            "models": names,
            "threshold": threshold,
            "seed": seed,
            "metadata": metadata,
            "group_column": group_column,
        },
        "versions": versions(),
    }
    meta = {
        "task": "popularity",
        "input": "table",
        "classes": list(POPULARITY_CLASSES),
        "model": chosen,
        "target": info["target"],
        "threshold": cut,
        "features": info["features"],
        "metadata_features": info["metadata_features"],
        "columns": list(x.columns),
        "required_columns": info["required_columns"],
        "medians": medians,
        "data_sha256": info["sha256"],
        "seed": seed,
    }
    return TrainedModel(
        meta, metrics, sklearn={"pipeline": model}, report_data={"train_scores": scores[splits["train"]]}
    )


def _open_table(md: Any, data: Any, *, dedupe: bool, target: str | None = None):
    from trackscope.sources.tables import normalize_name, read_table

    table = read_table(data, dedupe=None)
    needed = list(md.meta["required_columns"])
    if target is not None:
        needed.append(normalize_name(target))
    check_columns(table, needed)
    counts = None
    if dedupe:
        frame, counts = msplits.dedupe(table.frame, target=normalize_name(target or md.meta["target"]))
        table = replace(table, frame=frame)
    x = feature_frame(table.frame, md.meta["features"], md.meta["metadata_features"], path=table.path)
    return table, x[md.meta["columns"]], counts


def evaluate_table(md: Any, *, data: Any, target: str | None = None) -> dict[str, Any]:
    """Accuracy and ROC-AUC of a saved table model on another table (deduped the same way)."""
    import pandas as pd

    from trackscope.models.training import roc_auc
    from trackscope.sources.tables import normalize_name

    target = target or md.meta["target"]
    table, x, counts = _open_table(md, data, dedupe=True, target=target)
    scores = pd.to_numeric(table.frame[normalize_name(target)], errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(scores) & x[md.meta["features"]].notna().all(axis=1).to_numpy()
    if not keep.any():
        raise TableError("no rows with a popularity score and every audio feature", path=table.path)
    y = (scores[keep] >= md.meta["threshold"]).astype(int)
    p = md.load_sklearn("pipeline").predict_proba(x[keep])[:, 1]
    return {
        "accuracy": float(np.mean((p >= 0.5) == y)),
        "roc_auc": roc_auc(y, p),
        "n": int(keep.sum()),
        "excluded": int((~keep).sum()),
        "positives": int(y.sum()),
        "threshold": md.meta["threshold"],
        "model": md.meta["model"],
        "dedupe": counts,
        "data_sha256": table.sha256,
    }


def predict_table(md: Any, *, data: Any) -> Any:
    """Hit probability of every row, best first (rows with missing features are imputed, as in training)."""
    table, x, _ = _open_table(md, data, dedupe=False)
    p = md.load_sklearn("pipeline").predict_proba(x)[:, 1]
    out = table.frame[[c for c in ("id", "name", "artist") if c in table.frame.columns]].copy()
    out.insert(0, "row", table.frame.index)
    out["hit_probability"] = p
    out["hit"] = p >= 0.5
    out = out.sort_values("hit_probability", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def explain_table(md: Any, *, data: Any, row: int | None = None) -> Explanation:
    """Which features push one row's hit probability up or down.

    Each feature's contribution is the probability of the row minus the probability with that feature set to the
    training median (a model-agnostic "what if this were typical"); positive pushes toward popular.
    """
    table, x, _ = _open_table(md, data, dedupe=False)
    row = 0 if row is None else int(row)
    if not 0 <= row < len(x):
        raise TableError(f"row {row} is out of range (the table has {len(x)} rows, counted from 0)", path=table.path)
    model = md.load_sklearn("pipeline")
    base = x.iloc[[row]]
    p = float(model.predict_proba(base)[:, 1][0])
    variants = []
    for col in x.columns:
        v = base.copy()
        v[col] = md.meta["medians"].get(col)
        variants.append(v)
    import pandas as pd

    alt = model.predict_proba(pd.concat(variants))[:, 1]
    contrib = [
        {"feature": c, "value": _num(base[c].iloc[0]), "median": md.meta["medians"].get(c), "contribution": p - a}
        for c, a in zip(x.columns, alt, strict=True)
    ]
    contrib.sort(key=lambda r: -abs(r["contribution"]))
    result = {
        "row": row,
        "hit_probability": p,
        "model": md.meta["model"],
        "up": [r["feature"] for r in contrib if r["contribution"] > 0][:5],
        "down": [r["feature"] for r in contrib if r["contribution"] < 0][:5],
        "contributions": contrib,
    }
    for key in ("id", "name", "artist"):
        if key in table.frame.columns:
            result[key] = str(table.frame.iloc[row][key])
    return Explanation(result)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None
