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
    "rf": "Random forest (100 trees), grid over depth and leaf size",
    "gbm": "Histogram gradient boosting (100 rounds, L2 1.0), grid over learning rate and leaves",
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
    curve: dict[str, list[float]] | None = None  # learning curve on the same folds (fit_models' curve_sizes)

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
        # 100 rounds: a fit takes ~2/3 of 150 rounds' time (0.10-0.18 s on 489 rows).
        clf = HistGradientBoostingClassifier(
            max_iter=100, early_stopping=False, l2_regularization=1.0, random_state=seed
        )
        grid = {"clf__learning_rate": [0.03, 0.1], "clf__max_leaf_nodes": [7, 15]}
    else:
        raise ValueError(f"unknown model {name!r} (choose from {', '.join(MODEL_NAMES)})")
    from trackscope.models.preprocess import DropNearConstant, GapBins

    # near-constant columns out first, for every family: no scaler divides by rounding noise; trees split on codes
    # whose edges lie inside the gaps between training values, never on a value (trackscope.models.preprocess.GapBins)
    steps: list[tuple[str, Any]] = [("drop", DropNearConstant())]
    if name == "rf":
        steps += [("bins", GapBins()), ("clf", clf)]
    elif name == "gbm":
        steps += [("bins", GapBins(max_bins=255)), ("clf", clf)]
    else:
        steps += [("scale", _scaler(scaler)), ("clf", clf)]
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


# Successive halving over the CV folds (see fit_models): first round on this many folds.
HALVING_FOLDS = 2


def _survivors(n_candidates: int) -> int:
    """Candidates of a grid that go on to the remaining folds: the best third, at least 2 (all of a small grid)."""
    return n_candidates if n_candidates <= 3 else max(2, -(-n_candidates // 3))


def prefit_vote(members: Sequence[tuple[str, Any]], y: Any) -> Any:
    """A soft-voting ``VotingClassifier`` over already fitted ``members`` (``(name, estimator)``, fitted on the same
    rows ``y`` labels), without fitting them again: what ``VotingClassifier(members, voting="soft").fit(X, y)``
    returns, to the same probabilities (its members learn the same classes in the same order), for the cost of none
    of the fits (the mood ensemble's five refits took ~1 s). A plain scikit-learn object: it saves and loads with
    skops like a fitted one."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.ensemble import VotingClassifier
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import Bunch

    vote = VotingClassifier([(name, clone(est)) for name, est in members], voting="soft")
    vote.le_ = LabelEncoder().fit(np.asarray(y))
    vote.classes_ = vote.le_.classes_
    for name, est in members:
        if list(est.classes_) != list(vote.classes_):
            raise ValueError(f"member {name!r} learned classes {list(est.classes_)}, not {list(vote.classes_)}")
    vote.estimators_ = [est for _, est in members]
    vote.named_estimators_ = Bunch(**dict(members))
    return vote


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
    curve_sizes: Sequence[float] = (),
) -> list[ModelResult]:
    """Grid-search every family in ``models`` with the same folds; refit each best candidate on all of X; with
    ``curve_sizes``, draw every family's learning curve (and the ensemble's) on the same folds.

    Candidates are compared by mean fold accuracy (ties: the earlier, simpler candidate), found by successive halving
    over the folds. ``ensemble`` (if asked and at least two other families were fitted) soft-votes the tuned members;
    its CV uses the same folds but the members' parameters were tuned on them, so its CV score is slightly
    optimistic. Its fold scores and learning curve come from the members' own fold models (a soft vote is the mean
    of their probabilities: the same numbers as refitting a ``VotingClassifier`` per fold, without the fits), and the
    saved vote is made of the members' refits (:func:`prefit_vote`).

    Every fit is independent: they run in ``n_jobs`` processes as they become ready
    (:class:`trackscope.evaluation.FitRunner`) — one family's second round, refit and curve start while another's
    first round still runs — with the same results as in one process.
    """
    import tempfile

    import numpy as np
    from joblib import Memory
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    from trackscope.evaluation import FitRunner, curve_part, curve_summary, store_at

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
    # the worker processes, fits it once per fold (and once per learning-curve part for all families). Saved models
    # never carry it.
    cache = tempfile.TemporaryDirectory(prefix="trackscope-fits-")
    memory = Memory(cache.name, verbose=0)
    searched = {
        m: (clone(pipe).set_params(memory=memory) if hasattr(pipe, "steps") and len(pipe.steps) > 2 else pipe)
        for m, (pipe, _) in spaces.items()
    }
    grids = {name: list(ParameterGrid(spaces[name][1])) for name in families}
    k = len(splits)
    first = min(HALVING_FOLDS, k)
    survivors_of = {name: _survivors(len(grids[name])) for name in families}
    partial = [i for i, frac in enumerate(curve_sizes) if frac < 1.0]
    parts = {(i, f): curve_part(splits[f][0], y, curve_sizes[i], seed) for i in partial for f in range(k)}
    total = (
        sum(len(g) for g in grids.values()) * first
        + sum(survivors_of.values()) * (k - first)
        + sum(1 for name in families if name in _PROXIED) * k
        + len(families) * (1 + len(partial) * k)
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
    runner = FitRunner(X, y, n_jobs=n_jobs, tick=tick)
    # per family: candidate index → fold index → fit result
    folds_of: dict[str, list[dict[int, dict[str, Any]]]] = {name: [{} for _ in grids[name]] for name in families}
    waiting: dict[str, int] = {}
    best: dict[str, tuple[float, dict[str, Any], list[dict[str, Any]]]] = {}
    finals: dict[str, dict[str, Any]] = {}
    curves: dict[str, dict[tuple[int, int], dict[str, Any]]] = {name: {} for name in families}

    def fitted(name: str, c: int, f: int, then: Callable[[str], None]) -> Callable[[dict[str, Any]], None]:
        def record(res: dict[str, Any]) -> None:
            folds_of[name][c][f] = res
            waiting[name] -= 1
            if waiting[name] == 0:
                then(name)

        return record

    def first_round(name: str) -> None:  # every candidate on the first folds
        waiting[name] = len(grids[name]) * first
        for c, params in enumerate(grids[name]):
            for f in range(first):
                job = _search_proxy(name, params, searched[name])
                runner.fit(job, *splits[f], fitted(name, c, f, second_round), proba=want_ensemble, stage=0)

    def accs(name: str, c: int) -> list[float]:  # in fold order, whatever order the fits finished in
        return [folds_of[name][c][f]["val_acc"] for f in sorted(folds_of[name][c])]

    def mean_acc(name: str, c: int) -> float:
        return float(np.mean(accs(name, c)))

    def second_round(name: str) -> None:  # the best third of the grid (at least 2) on the remaining folds
        if k == first:
            return chosen_candidate(name)
        own = sorted(range(len(grids[name])), key=lambda c: -mean_acc(name, c))  # stable: ties keep order
        alive = sorted(own[: survivors_of[name]])
        waiting[name] = len(alive) * (k - first)
        for c in alive:
            for f in range(first, k):
                job = _search_proxy(name, grids[name][c], searched[name])
                runner.fit(job, *splits[f], fitted(name, c, f, chosen_candidate), proba=want_ensemble, stage=1)

    def chosen_candidate(name: str) -> None:
        for c, params in enumerate(grids[name]):
            if len(folds_of[name][c]) == k:
                mean = mean_acc(name, c)
                if name not in best or mean > best[name][0] + 1e-12:
                    best[name] = (mean, params, [folds_of[name][c][f] for f in range(k)])
        if name in _PROXIED:  # the chosen candidate cross-validated as it will be saved
            redo: dict[int, dict[str, Any]] = {}

            def again(f: int) -> Callable[[dict[str, Any]], None]:
                def record(res: dict[str, Any]) -> None:
                    redo[f] = res
                    if len(redo) == k:
                        folds = [redo[i] for i in range(k)]
                        best[name] = (float(np.mean([r["val_acc"] for r in folds])), best[name][1], folds)

                return record

            for f in range(k):
                job = clone(searched[name]).set_params(**best[name][1])
                runner.fit(job, *splits[f], again(f), proba=want_ensemble, stage=2)
        # the refit on all rows (saved), and the learning curve's fits (with the transform cache)
        runner.refit(clone(spaces[name][0]).set_params(**best[name][1]), store_at(finals, name), stage=2)
        for (i, f), part in parts.items():
            job = clone(searched[name]).set_params(**best[name][1])
            runner.fit(job, part, splits[f][1], store_at(curves[name], (i, f)), proba=want_ensemble, stage=2)

    for name in families:
        first_round(name)
    runner.run()
    cache.cleanup()
    search_seconds = (time.perf_counter() - start) / max(sum(len(g) for g in grids.values()), 1)

    def curve_of(score: Callable[[dict[str, Any]], tuple[float, float]], full: list[tuple[float, float]]) -> dict:
        rows = [
            [len(parts[(i, f)]) if i in partial else len(splits[f][0]) for f in range(k)]
            for i in range(len(curve_sizes))
        ]
        tr = [[score(i, f)[0] if i in partial else full[f][0] for f in range(k)] for i in range(len(curve_sizes))]
        va = [[score(i, f)[1] if i in partial else full[f][1] for f in range(k)] for i in range(len(curve_sizes))]
        return curve_summary(rows, tr, va)

    results: list[ModelResult] = []
    for name in families:
        folds = best[name][2]
        results.append(
            ModelResult(
                name=name,
                estimator=finals[name]["model"],
                params=_plain(best[name][1]),
                cv_scores=[f["val_acc"] for f in folds],
                cv_train_scores=[f["train_acc"] for f in folds],
                train_accuracy=finals[name]["train_acc"],
                n_candidates=len(grids[name]),
                seconds=search_seconds * len(grids[name]),
                grid=[
                    {
                        "params": _plain(params),
                        "mean": mean_acc(name, c),
                        "std": float(np.std(accs(name, c))),
                        "folds": len(folds_of[name][c]),
                    }
                    for c, params in enumerate(grids[name])
                ],
                curve=curve_of(
                    lambda i, f, name=name: (curves[name][(i, f)]["train_acc"], curves[name][(i, f)]["val_acc"]),
                    [(r["train_acc"], r["val_acc"]) for r in folds],
                )
                if curve_sizes
                else None,
            )
        )
    if want_ensemble:
        start = time.perf_counter()

        def vote_scores(member: list[dict[str, Any]], train: Any, val: Any) -> tuple[float, float]:
            classes = np.asarray(member[0]["classes"], dtype=object)
            out = []
            for part, key in ((train, "train_proba"), (val, "val_proba")):
                mean_proba = np.mean([m[key] for m in member], axis=0)
                out.append(float(np.mean(classes[mean_proba.argmax(axis=1)] == y[part])))
            return out[0], out[1]

        full = [vote_scores([best[name][2][f] for name in families], *splits[f]) for f in range(k)]
        vote = prefit_vote([(r.name, r.estimator) for r in results], y)
        curve = None
        if curve_sizes:
            curve = curve_of(
                lambda i, f: vote_scores([curves[name][(i, f)] for name in families], parts[(i, f)], splits[f][1]),
                full,
            )
        tick()
        results.append(
            ModelResult(
                name="ensemble",
                estimator=vote,
                params={"members": [r.name for r in results]},
                cv_scores=[v for _, v in full],
                cv_train_scores=[t for t, _ in full],
                train_accuracy=float(np.mean(vote.predict(X) == y)),
                n_candidates=1,
                seconds=time.perf_counter() - start,
                curve=curve,
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
