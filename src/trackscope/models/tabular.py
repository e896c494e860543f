"""scikit-learn model families for tabular features, their search spaces, and a grid search with progress.

Every model is a plain scikit-learn ``Pipeline`` (scaling + classifier) built only from scikit-learn, numpy and
scipy types, so it saves with skops and loads with an explicit trusted-type list (see
:mod:`trackscope.models.persist`), and users can drop it into their own scikit-learn code.

The families follow the mood study (logistic regression baseline, then MLP, SVM, random forest, gradient boosting);
``ensemble`` is a soft vote of the tuned members. Grids are small on purpose: ~900 tracks cannot tell finer grids apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Yeo-Johnson power scaling beat plain standardisation on the mood study's table for every scale-sensitive family
# (logreg +0.021, MLP +0.023, SVM, ensemble +0.013 mean test accuracy over 5 splits; bench/mood_tabular.py):
# speechiness, instrumentalness, liveness and acousticness are heavily skewed.
DEFAULT_SCALER = "power"
SCALERS: tuple[str, ...] = ("power", "standard")
MODEL_NAMES: tuple[str, ...] = ("logreg", "mlp", "svm", "rf", "gbm", "ensemble")
DEFAULT_MODELS: tuple[str, ...] = ("logreg", "mlp", "svm", "rf", "gbm", "ensemble")
DESCRIPTIONS: dict[str, str] = {
    "logreg": "Logistic regression (multinomial), grid over C",
    "mlp": "Multi-layer perceptron, one hidden layer, grid over size and L2 alpha",
    "svm": "SVM with RBF kernel (Platt-calibrated probabilities), grid over C and gamma",
    "rf": "Random forest (200 trees), grid over depth and leaf size",
    "gbm": "Histogram gradient boosting (150 rounds, L2 1.0), grid over learning rate and leaves",
    "ensemble": "Soft vote of the tuned models above",
}


@dataclass
class ModelResult:
    """One family after its grid search: the refitted best pipeline and its cross-validated scores."""

    name: str
    estimator: Any
    params: dict[str, Any]
    cv_scores: list[float]
    train_accuracy: float
    n_candidates: int
    seconds: float
    grid: list[dict[str, Any]] = field(default_factory=list)  # every candidate: params, mean, std

    @property
    def cv_mean(self) -> float:
        return float(sum(self.cv_scores) / len(self.cv_scores))

    @property
    def cv_std(self) -> float:
        import numpy as np

        return float(np.std(self.cv_scores))


def _scaler(kind: str) -> Any:
    from sklearn.preprocessing import PowerTransformer, StandardScaler

    if kind == "standard":
        return StandardScaler()
    if kind == "power":  # Yeo-Johnson: un-skews speechiness, instrumentalness, liveness, duration
        return PowerTransformer(method="yeo-johnson", standardize=True)
    raise ValueError(f"unknown scaler {kind!r} (standard, power)")


def search_space(
    name: str, *, n_features: int, n_classes: int, seed: int = 42, scaler: str = DEFAULT_SCALER
) -> tuple[Any, list[dict[str, list[Any]]]]:
    """The pipeline of family ``name`` and its parameter grid (``GridSearchCV`` style, step name ``clf``)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    if name == "logreg":
        clf = LogisticRegression(max_iter=5000)
        grid = {"clf__C": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]}
    elif name == "mlp":
        # The study's rule of thumb: start at (inputs + outputs) / 2 hidden units, then search around it.
        h0 = max(2, (n_features + n_classes) // 2)
        clf = MLPClassifier(hidden_layer_sizes=(h0,), solver="lbfgs", max_iter=3000, random_state=seed)
        grid = {"clf__hidden_layer_sizes": [(h0,), (2 * h0,)], "clf__alpha": [1.0, 10.0, 30.0]}
    elif name == "svm":
        # SVC(probability=True) is deprecated in scikit-learn 1.9; calibrating on CV predictions is its replacement.
        # Temperature scaling (scikit-learn >= 1.8) keeps the SVM's ranking of classes; per-class sigmoids do not
        # and cost 0.5-5 points of accuracy on the mood study's table (bench/mood_tabular.py).
        clf = CalibratedClassifierCV(SVC(kernel="rbf"), method=_svm_calibration(), ensemble=False, cv=3)
        grid = {"clf__estimator__C": [0.3, 1.0, 3.0, 10.0], "clf__estimator__gamma": ["scale", 0.03, 0.1, 0.3]}
    elif name == "rf":
        clf = RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1)
        grid = {"clf__max_depth": [None, 10], "clf__min_samples_leaf": [1, 3]}
    elif name == "gbm":
        clf = HistGradientBoostingClassifier(
            max_iter=150, early_stopping=False, l2_regularization=1.0, random_state=seed
        )
        grid = {"clf__learning_rate": [0.03, 0.1], "clf__max_leaf_nodes": [7, 15]}
    else:
        raise ValueError(f"unknown model {name!r} (choose from {', '.join(MODEL_NAMES)})")
    from trackscope.models.preprocess import DropNearConstant

    # near-constant columns out first, for every family: no scaler divides by rounding noise
    steps = [("drop", DropNearConstant())]
    steps += [("clf", clf)] if name in ("rf", "gbm") else [("scale", _scaler(scaler)), ("clf", clf)]
    return Pipeline(steps), [grid]


def _svm_calibration() -> str:
    import sklearn

    major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
    return "temperature" if (major, minor) >= (1, 8) else "sigmoid"


def _n_candidates(grid: list[dict[str, list[Any]]]) -> int:
    from sklearn.model_selection import ParameterGrid

    return len(ParameterGrid(grid))


def _cv(estimator: Any, X: Any, y: Any, splits: list, tick: Callable[[], None]) -> list[float]:  # noqa: N803
    import warnings

    import numpy as np
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    scores = []
    for train, val in splits:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = clone(estimator).fit(X[train], y[train])
        scores.append(float(np.mean(model.predict(X[val]) == y[val])))
        tick()
    return scores


def fit_models(
    X: Any,  # noqa: N803
    y: Any,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    cv: Any,
    groups: Any = None,
    seed: int = 42,
    scaler: str = DEFAULT_SCALER,
    progress: Callable[[int, int], None] | None = None,
) -> list[ModelResult]:
    """Grid-search every family in ``models`` with the same folds; refit each best candidate on all of X.

    Candidates are compared by mean fold accuracy (ties: the earlier, simpler candidate). ``ensemble`` (if asked and
    at least two other families were fitted) soft-votes the tuned members; its CV uses the same folds but the members'
    parameters were tuned on them, so its CV score is slightly optimistic.
    """
    import warnings

    import numpy as np
    from sklearn.base import clone
    from sklearn.ensemble import VotingClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import ParameterGrid

    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown model {', '.join(map(repr, unknown))} (choose from {', '.join(MODEL_NAMES)})")
    X = np.asarray(X, dtype=float)  # noqa: N806
    y = np.asarray(y)
    splits = list(cv.split(X, y, groups))
    n_classes = len(np.unique(y))
    families = [m for m in models if m != "ensemble"]
    spaces = {
        m: search_space(m, n_features=X.shape[1], n_classes=n_classes, seed=seed, scaler=scaler) for m in families
    }
    want_ensemble = "ensemble" in models and len(families) >= 2
    total = sum(_n_candidates(g) for _, g in spaces.values()) * len(splits) + (len(splits) if want_ensemble else 0)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    results: list[ModelResult] = []
    for name in families:
        start = time.perf_counter()
        pipe, grid = spaces[name]
        best: tuple[float, dict[str, Any], list[float]] | None = None
        table = []
        for params in ParameterGrid(grid):
            scores = _cv(clone(pipe).set_params(**params), X, y, splits, tick)
            mean = float(np.mean(scores))
            table.append({"params": params, "mean": mean, "std": float(np.std(scores))})
            if best is None or mean > best[0] + 1e-12:
                best = (mean, params, scores)
        assert best is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            final = clone(pipe).set_params(**best[1]).fit(X, y)
        results.append(
            ModelResult(
                name=name,
                estimator=final,
                params=_plain(best[1]),
                cv_scores=best[2],
                train_accuracy=float(np.mean(final.predict(X) == y)),
                n_candidates=len(table),
                seconds=time.perf_counter() - start,
                grid=[{**row, "params": _plain(row["params"])} for row in table],
            )
        )
    if want_ensemble:
        start = time.perf_counter()
        members = [(r.name, clone(r.estimator)) for r in results]
        vote = VotingClassifier(members, voting="soft")
        scores = _cv(vote, X, y, splits, tick)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            final = clone(vote).fit(X, y)
        results.append(
            ModelResult(
                name="ensemble",
                estimator=final,
                params={"members": [r.name for r in results]},
                cv_scores=scores,
                train_accuracy=float(np.mean(final.predict(X) == y)),
                n_candidates=1,
                seconds=time.perf_counter() - start,
            )
        )
    return results


def choose(results: Sequence[ModelResult]) -> ModelResult:
    """The result with the best mean CV accuracy (never the test score); ties go to the earlier family."""
    best = results[0]
    for r in results[1:]:
        if r.cv_mean > best.cv_mean + 1e-12:
            best = r
    return best


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """Grid parameters with the ``clf__`` prefixes dropped and tuples as lists (JSON-friendly)."""
    out = {}
    for key, value in params.items():
        short = key.split("__")[-1]
        out[short] = list(value) if isinstance(value, tuple) else value
    return out


def logreg_odds_ratios(estimator: Any, features: Sequence[str]) -> dict[str, dict[str, float]] | None:
    """``{class: {feature: exp(coefficient)}}`` of a fitted scaler + LogisticRegression pipeline (else None).

    Coefficients are per standard deviation of each feature (the pipeline standardises first), so an odds ratio of 2
    means: one sd more of this feature doubles the odds of this class against the others (multinomial softmax).
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    clf = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    if not isinstance(clf, LogisticRegression):
        return None
    drop = dict(getattr(estimator, "steps", [])).get("drop")
    if drop is not None:  # coefficients exist only for the columns the near-constant step kept
        features = [f for f, keep in zip(features, drop.keep_, strict=True) if keep]
    coef = np.atleast_2d(clf.coef_)
    classes = list(clf.classes_)
    if coef.shape[0] == 1 and len(classes) == 2:  # binary: one row for the positive class
        coef = np.vstack([-coef[0], coef[0]])
    return {str(c): {f: float(np.exp(coef[i, j])) for j, f in enumerate(features)} for i, c in enumerate(classes)}
