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
    cv_train_scores: list[float] = field(default_factory=list)  # accuracy on each fold's own training part

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
        clf = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
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


# Families whose grid is searched through a cheaper stand-in that ranks candidates alike: the SVM's calibrated
# probabilities cost four SVC fits (three for calibration) where the decision alone costs one, and temperature
# scaling keeps the SVM's ranking of classes. The chosen candidate is then cross-validated in its saved form, and
# that is the score reported (and used to choose between families).
_PROXIED = ("svm",)


def _search_proxy(name: str, params: dict[str, Any], pipe: Any) -> Any:
    """The estimator that scores candidate ``params`` of family ``name`` during the grid search."""
    from sklearn.base import clone

    if name != "svm":
        return clone(pipe).set_params(**params)
    svc = clone(pipe.named_steps["clf"].estimator)
    proxy = clone(pipe).set_params(clf=svc)
    return proxy.set_params(**{k.replace("clf__estimator__", "clf__"): v for k, v in params.items()})


def with_transform_cache(estimator: Any, memory: Any) -> Any:
    """A clone of ``estimator`` whose pipelines (its own, or its voting members') cache fitted transformers in
    ``memory`` (a ``joblib.Memory``): the members of an ensemble then fit their shared scaler once per training
    set. Same fits, same numbers; for searches and learning curves, never for a model that is saved."""
    from sklearn.base import clone

    est = clone(estimator)
    if hasattr(est, "steps") and len(est.steps) > 2:
        est.set_params(memory=memory)
    for name, member in getattr(est, "estimators", None) or []:
        if hasattr(member, "steps") and len(member.steps) > 2:
            est.set_params(**{f"{name}__memory": memory})
    return est


# Successive halving over the CV folds (see fit_models): first round on this many folds.
HALVING_FOLDS = 2


def _survivors(n_candidates: int) -> int:
    """Candidates of a grid that go on to the remaining folds: the best third, at least 2 (all of a small grid)."""
    return n_candidates if n_candidates <= 3 else max(2, -(-n_candidates // 3))


def _refit(estimator: Any, X: Any, y: Any) -> Any:  # noqa: N803
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clone(estimator).fit(X, y)


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
    n_jobs: int | str | None = "auto",
) -> list[ModelResult]:
    """Grid-search every family in ``models`` with the same folds; refit each best candidate on all of X.

    Candidates are compared by mean fold accuracy (ties: the earlier, simpler candidate). ``ensemble`` (if asked and
    at least two other families were fitted) soft-votes the tuned members; its CV uses the same folds but the members'
    parameters were tuned on them, so its CV score is slightly optimistic. Its fold scores come from the members'
    own fold models (a soft vote is the mean of their probabilities: the same numbers as refitting a
    ``VotingClassifier`` per fold, without the fits). Every fit is independent: they run in ``n_jobs`` processes
    (:func:`trackscope.evaluation.fit_many`), same results as in one.
    """
    import tempfile

    import numpy as np
    from joblib import Memory, Parallel, delayed
    from sklearn.base import clone
    from sklearn.ensemble import VotingClassifier
    from sklearn.model_selection import ParameterGrid

    from trackscope.evaluation import fit_jobs, fit_many

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
    # During the search every candidate of a family refits the same scaler on the same fold (the Yeo-Johnson fit,
    # ~55 ms on 600 rows, was most of a logistic regression's fit): a joblib cache of fitted transformers, shared by
    # the worker processes, fits it once per fold. Saved models never carry it.
    cache = tempfile.TemporaryDirectory(prefix="trackscope-fits-")
    memory = Memory(cache.name, verbose=0)
    searched = {
        m: (clone(pipe).set_params(memory=memory) if hasattr(pipe, "steps") and len(pipe.steps) > 2 else pipe)
        for m, (pipe, _) in spaces.items()
    }
    candidates = [(name, params) for name in families for params in ParameterGrid(spaces[name][1])]
    n_proxied = sum(1 for name in families if name in _PROXIED)
    k = len(splits)
    first = min(HALVING_FOLDS, k)
    survivors_of = {name: _survivors(len(ParameterGrid(spaces[name][1]))) for name in families}
    total = (
        len(candidates) * first
        + sum(survivors_of.values()) * (k - first)
        + n_proxied * k
        + len(families)
        + (1 if want_ensemble else 0)
    )
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    start = time.perf_counter()
    # Successive halving over folds: every candidate on the first folds, the best third of each family's grid
    # (at least 2) on the rest. Every reported score is over all folds.
    folds_of: dict[int, list[dict[str, Any]]] = {c: [] for c in range(len(candidates))}

    def run(alive: list[int], fold_set: list[Any]) -> None:
        jobs = [
            (_search_proxy(*candidates[c], searched[candidates[c][0]]), tr, va) for c in alive for tr, va in fold_set
        ]
        fits = fit_many(jobs, X, y, n_jobs=n_jobs, proba=want_ensemble, tick=tick)
        for j, c in enumerate(alive):
            folds_of[c] += fits[j * len(fold_set) : (j + 1) * len(fold_set)]

    run(list(range(len(candidates))), splits[:first])
    if k > first:
        alive = []
        for name in families:
            own = [c for c in range(len(candidates)) if candidates[c][0] == name]
            own.sort(key=lambda c: -float(np.mean([f["val_acc"] for f in folds_of[c]])))  # stable: ties keep order
            alive += sorted(own[: survivors_of[name]])
        run(alive, splits[first:])
    best: dict[str, tuple[float, dict[str, Any], list[dict[str, Any]]]] = {}
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in families}
    for c, (name, params) in enumerate(candidates):
        folds = folds_of[c]
        scores = [f["val_acc"] for f in folds]
        mean = float(np.mean(scores))
        row = {"params": params, "mean": mean, "std": float(np.std(scores)), "folds": len(folds)}
        tables[name].append(row)
        if len(folds) == k and (name not in best or mean > best[name][0] + 1e-12):
            best[name] = (mean, params, folds)
    proxied = [name for name in families if name in _PROXIED]
    if proxied:  # the chosen candidate of a proxied family, cross-validated as it will be saved
        redo = [(clone(searched[name]).set_params(**best[name][1]), tr, va) for name in proxied for tr, va in splits]
        again = fit_many(redo, X, y, n_jobs=n_jobs, proba=want_ensemble, tick=tick)
        for j, name in enumerate(proxied):
            folds = again[j * k : (j + 1) * k]
            best[name] = (float(np.mean([f["val_acc"] for f in folds])), best[name][1], folds)
    cache.cleanup()
    search_seconds = (time.perf_counter() - start) / max(len(candidates), 1)
    # the chosen candidate of each family, refitted on all rows (in parallel too: the forest dominates)
    finals_in = [clone(spaces[name][0]).set_params(**best[name][1]) for name in families]
    n = fit_jobs(len(finals_in), n_jobs, rows=len(X))
    if n == 1:
        finals = [_refit(est, X, y) for est in finals_in]
    else:
        finals = list(Parallel(n_jobs=n, backend="loky", max_nbytes=None)(delayed(_refit)(e, X, y) for e in finals_in))
    results: list[ModelResult] = []
    for name, final in zip(families, finals, strict=True):
        tick()
        results.append(
            ModelResult(
                name=name,
                estimator=final,
                params=_plain(best[name][1]),
                cv_scores=[f["val_acc"] for f in best[name][2]],
                cv_train_scores=[f["train_acc"] for f in best[name][2]],
                train_accuracy=float(np.mean(final.predict(X) == y)),
                n_candidates=len(tables[name]),
                seconds=search_seconds * len(tables[name]),
                grid=[{**row, "params": _plain(row["params"])} for row in tables[name]],
            )
        )
    if want_ensemble:
        start = time.perf_counter()
        scores, train_scores = [], []
        for i, (train, val) in enumerate(splits):
            member = [best[name][2][i] for name in families]
            classes = np.asarray(member[0]["classes"], dtype=object)
            for part, key, out in ((val, "val_proba", scores), (train, "train_proba", train_scores)):
                mean_proba = np.mean([f[key] for f in member], axis=0)
                out.append(float(np.mean(classes[mean_proba.argmax(axis=1)] == y[part])))
        vote = VotingClassifier([(r.name, clone(r.estimator)) for r in results], voting="soft")
        final = _refit(vote, X, y)
        tick()
        results.append(
            ModelResult(
                name="ensemble",
                estimator=final,
                params={"members": [r.name for r in results]},
                cv_scores=scores,
                cv_train_scores=train_scores,
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
