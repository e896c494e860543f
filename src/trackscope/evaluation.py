"""Splits, cross-validation, learning curves and classification metrics, shared by every task.

Everything takes a seed, and every split is stratified by class (and grouped, e.g. by artist, when ``groups`` is
given, so that one artist never lands on both sides).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

# A train accuracy this far above the cross-validated accuracy is flagged as overfitting. 0.10 is a rule of thumb:
# random forests on ~600 tracks routinely reach 1.0 train vs ~0.7 CV, which is worth a second look.
OVERFIT_GAP = 0.10


def classification_metrics(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    labels: Sequence[Any] | None = None,
    *,
    ids: Sequence[Any] | None = None,
    proba: Any = None,
    proba_labels: Sequence[Any] | None = None,
) -> dict:
    """Accuracy, macro-F1, per-class scores, the confusion matrix and the misclassified items.

    Parameters
    ----------
    y_true, y_pred : sequences of labels
    labels : sequence, optional
        Classes in display order (default: sorted union of both). The confusion matrix covers all of them; per-class
        rows and ``macro_f1`` cover the classes that occur in ``y_true`` (a class the data never contains has no
        meaningful recall): the others are listed in ``absent_classes``.
    ids : sequence, optional (keyword)
        What names each item in ``misclassified`` (a file path, a track id); default: the row number (0-based).
    proba : array, optional (keyword)
        Class probabilities, shape ``(n, len(proba_labels))`` (columns in ``proba_labels`` order, default
        ``labels``), or the predicted class's probability per item, shape ``(n,)``: gives each misclassified item's
        ``confidence``, and orders them most confident first.
    proba_labels : sequence, optional (keyword)
        Column order of a 2-D ``proba`` (e.g. a scikit-learn estimator's ``classes_``).

    Returns
    -------
    dict
        ``{"accuracy", "macro_f1", "n", "per_class": {cls: {precision, recall, f1, support}}, "absent_classes",
        "confusion": {"labels", "matrix" (rows: true), "normalized" (each row sums to 1; 0 for absent classes)},
        "misclassified": [{"id", "true", "predicted", "confidence"}, ...]}`` (``confidence`` None without
        ``proba``).
    """
    import numpy as np
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {len(y_true)} items, y_pred {len(y_pred)}")
    if labels is None:
        labels = sorted(set(y_true.tolist()) | set(y_pred.tolist()), key=str)
    labels = list(labels)
    n = len(y_true)
    ids = None if ids is None else list(ids)  # a pandas Series would index by label
    if ids is not None and len(ids) != n:
        raise ValueError(f"ids has {len(ids)} items, y_true {n}")
    if n == 0:
        return {
            "accuracy": None,
            "macro_f1": None,
            "n": 0,
            "per_class": {},
            "absent_classes": [str(c) for c in labels],
            "confusion": {"labels": [str(c) for c in labels]},
            "misclassified": [],
        }
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    present = s > 0
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "macro_f1": float(np.mean(f[present])) if present.any() else None,
        "n": int(n),
        "per_class": {
            str(c): {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, c in enumerate(labels)
            if present[i]
        },
        "absent_classes": [str(c) for i, c in enumerate(labels) if not present[i]],
        "confusion": {"labels": [str(c) for c in labels], "matrix": cm.tolist(), "normalized": norm.tolist()},
        "misclassified": _misclassified(y_true, y_pred, ids, proba, list(proba_labels or labels)),
    }


def _plain_value(v: Any) -> Any:
    """numpy scalars as Python ones (JSON), everything else that is not a number or string as its text."""
    if hasattr(v, "item") and callable(v.item):
        v = v.item()
    return v if isinstance(v, int | float | str) or v is None else str(v)


def _misclassified(y_true: Any, y_pred: Any, ids: Any, proba: Any, proba_labels: list[Any]) -> list[dict[str, Any]]:
    import numpy as np

    wrong = np.flatnonzero(y_true != y_pred)
    conf: Any = None
    if proba is not None:
        pr = np.asarray(proba, dtype=float)
        if pr.shape[0] != len(y_true) or pr.ndim not in (1, 2):
            raise ValueError(f"proba has shape {pr.shape}; expected ({len(y_true)},) or ({len(y_true)}, classes)")
        if pr.ndim == 1:
            conf = pr
        else:
            if pr.shape[1] != len(proba_labels):
                raise ValueError(f"proba has {pr.shape[1]} columns for {len(proba_labels)} classes")
            col = {str(c): j for j, c in enumerate(proba_labels)}
            conf = np.array([pr[i, col[str(y_pred[i])]] if str(y_pred[i]) in col else np.nan for i in range(len(pr))])
    items = [
        {
            "id": _plain_value(ids[i]) if ids is not None else int(i),
            "true": str(y_true[i]),
            "predicted": str(y_pred[i]),
            "confidence": None if conf is None or not np.isfinite(conf[i]) else float(conf[i]),
        }
        for i in wrong
    ]
    if conf is not None:  # the most confident mistakes first: the ones most worth a look
        items.sort(key=lambda m: -(m["confidence"] if m["confidence"] is not None else -1.0))
    return items


def stratified_split(
    y: Sequence[Any], *, test_size: float = 0.33, seed: int = 42, groups: Sequence[Any] | None = None
) -> tuple[Any, Any]:
    """Indices ``(train, test)`` of a stratified split (``groups``: no group on both sides).

    Without groups this is exactly ``train_test_split(..., test_size, random_state=seed, stratify=y)``, the split the
    mood study used. With groups, ``StratifiedGroupKFold`` with ``round(1 / test_size)`` folds gives the test fold.
    """
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    y = np.asarray(y)
    idx = np.arange(len(y))
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    if groups is None:
        # Kept in train_test_split's shuffled order: tables are often sorted by playlist, and estimators with
        # unshuffled inner folds (CalibratedClassifierCV) would otherwise calibrate on whole playlists.
        train, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=y)
        return train, test
    n_splits = max(2, round(1.0 / test_size))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    train, test = next(splitter.split(idx, y, groups=np.asarray(groups)))
    return train, test


def cv_splitter(y: Sequence[Any], *, n_splits: int = 5, seed: int = 42, grouped: bool = False) -> Any:
    """A stratified (group) K-fold splitter; folds are cut to the smallest class size (at least 2)."""
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    _, counts = np.unique(np.asarray(y), return_counts=True)
    k = int(max(2, min(n_splits, counts.min() if len(counts) else 2)))
    if grouped:
        return StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)


# Below this much work (fits × training rows) "auto" stays in this process: starting worker processes that import
# scikit-learn costs ~2–5 s on 2 cores, more than a few dozen fits on a small table take (150 rows, logreg only:
# 2.3 s in process, 7.9 s with workers; the 913-row table's search is ~100 fits × 600 rows and gains ~1.8×).
MIN_PARALLEL_WORK = 20_000

# A fit's cost per training row relative to a logistic regression's whose scaler is already fitted, by final
# estimator type: measured on 490 rows of the mood study's table (logreg 5 ms, SVC 5 ms, calibrated SVC 20 ms,
# MLP 50–430 ms, forest 130 ms, boosting 100 ms at 100 rounds). Only the order of the fits uses it (largest first).
_RELATIVE_COST = {
    "LogisticRegression": 1.0,
    "SVC": 1.0,
    "CalibratedClassifierCV": 4.0,
    "MLPClassifier": 40.0,
    "RandomForestClassifier": 26.0,
    "HistGradientBoostingClassifier": 20.0,
    "VotingClassifier": 110.0,
}


def _fit_cost(estimator: Any) -> int:
    """A fit's cost per training row relative to a logistic regression's (the unit :data:`MIN_PARALLEL_WORK` was
    measured in): MLPs, SVMs, forests and boosting take ~10× longer on these tables (a 300-row search of all six
    families ran 49 s in one process, 150 fits at 3 a second)."""
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    return 1 if type(final).__name__ == "LogisticRegression" else 10


def fit_order_cost(estimator: Any, n_rows: int) -> float:
    """An estimate of a fit's cost (for ordering fits, largest first; see :data:`_RELATIVE_COST`)."""
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    return _RELATIVE_COST.get(type(final).__name__, 20.0) * max(int(n_rows), 1)


def fit_jobs(n_fits: int, n_jobs: int | str | None = "auto", *, rows: int | None = None) -> int:
    """How many worker processes for ``n_fits`` independent model fits: ``"auto"`` / None = one per core (at most
    4), never more than the fits, and 1 when ``n_fits × rows`` is below :data:`MIN_PARALLEL_WORK`; 1 runs them in
    this process."""
    import os

    if (n_jobs is None or n_jobs == "auto") and rows is not None and n_fits * rows < MIN_PARALLEL_WORK:
        return 1
    if n_jobs is None or n_jobs == "auto":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        n_jobs = min(cores, 4)
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a whole number of at least 1 or 'auto', got {n_jobs!r}")
    return max(1, min(n_jobs, n_fits))


def _fit_one(estimator: Any, X: Any, y: Any, train: Any, val: Any, proba: bool) -> dict[str, Any]:  # noqa: N803
    import warnings

    import numpy as np
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = clone(estimator).fit(X[train], y[train])
    out: dict[str, Any] = {
        "train_acc": float(np.mean(model.predict(X[train]) == y[train])),
        "val_acc": float(np.mean(model.predict(X[val]) == y[val])),
        "n_train": len(train),
    }
    if proba and hasattr(model, "predict_proba"):
        out["val_proba"] = model.predict_proba(X[val])
        out["train_proba"] = model.predict_proba(X[train])
        out["classes"] = list(model.classes_)
    return out


def _refit_all(estimator: Any, X: Any, y: Any) -> dict[str, Any]:  # noqa: N803
    """A fresh clone of ``estimator`` fitted on every row, and its accuracy on them."""
    import warnings

    import numpy as np
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = clone(estimator).fit(X, y)
    return {"model": model, "train_acc": float(np.mean(model.predict(X) == y))}


def _warm() -> None:
    """In a fresh worker: import what the fits need while the parent still reads and splits the table."""
    import sklearn.calibration  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.neural_network  # noqa: F401
    import sklearn.pipeline  # noqa: F401
    import sklearn.preprocessing  # noqa: F401
    import sklearn.svm  # noqa: F401


def _executor(n: int) -> Any:
    """The reusable pool of ``n`` single-threaded worker processes (loky's: kept between calls, idle workers leave
    after 5 minutes, every worker exits with its parent)."""
    from joblib.externals.loky import get_reusable_executor

    from trackscope._workers import init_pool_worker

    return get_reusable_executor(max_workers=n, timeout=300, initializer=init_pool_worker, initargs=(os.getpid(),))


def warm_workers(n_fits: int, n_jobs: int | str | None = "auto", *, rows: int | None = None) -> int:
    """Start the worker processes :class:`FitRunner` will use for about ``n_fits`` fits of ``rows`` rows (if it
    will use any) and have them import scikit-learn now, in the background: ~2 s of start-up that then overlaps the
    caller's own preparation. Returns the number of workers (1: none, the fits will run in this process)."""
    n = fit_jobs(n_fits, n_jobs, rows=rows)
    if n > 1:
        ex = _executor(n)
        for _ in range(n):
            ex.submit(_warm)
    return n


def in_background(workers: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
    """``fn(*args, **kwargs)`` started now in one of the ``workers`` processes of :func:`warm_workers` (``fn`` must
    be importable by name); returns a function that waits for the result (and raises its error). With
    ``workers`` ≤ 1 the call runs in this process when the result is first asked for."""
    if workers <= 1:
        cell: list[Any] = []

        def run_here() -> Any:
            if not cell:
                cell.append(fn(*args, **kwargs))
            return cell[0]

        return run_here
    future = _executor(workers).submit(fn, *args, **kwargs)
    return future.result


class FitRunner:
    """Independent model fits, run as they become ready: in worker processes (loky's reusable pool, one thread each)
    or, for little work, in this process. A fit's ``done(result)`` runs here, in this process, as soon as it
    finishes, and may add fits that depend on it — so one family's next round or refit starts while another's fits
    still run, and no core waits at a barrier. Ready fits start lowest ``stage`` first, then largest ``cost`` first
    (the small fits fill in at the end). Results do not depend on the order or the number of processes: every
    estimator carries its seed.
    """

    def __init__(self, X: Any, y: Any, *, n_jobs: int | str | None = "auto", tick: Callable[[], None] | None = None):  # noqa: N803
        import numpy as np

        self.X = np.asarray(X)
        self.y = np.asarray(y)
        self.n_jobs = n_jobs
        self.tick = tick
        self._ready: list[tuple[int, float, int, Callable[..., Any], tuple[Any, ...], Callable[[Any], None]]] = []
        self._seq = 0
        self._work = 0.0  # fits × rows × _fit_cost of what was queued before run(): decides the processes

    def _add(self, stage: int, cost: float, fn: Callable[..., Any], args: tuple, done: Callable[[Any], None]) -> None:
        import heapq

        heapq.heappush(self._ready, (stage, -cost, self._seq, fn, args, done))
        self._seq += 1

    def fit(
        self,
        estimator: Any,
        train: Any,
        val: Any,
        done: Callable[[dict[str, Any]], None],
        *,
        proba: bool = False,
        stage: int = 0,
    ) -> None:
        """Fit a clone on rows ``train``, score it on ``train`` and ``val``; ``done`` gets :func:`fit_many`'s dict."""
        self._work += len(train) * _fit_cost(estimator)
        cost = fit_order_cost(estimator, len(train))
        self._add(stage, cost, _fit_one, (estimator, self.X, self.y, train, val, proba), done)

    def refit(self, estimator: Any, done: Callable[[dict[str, Any]], None], *, stage: int = 0) -> None:
        """Fit a clone on every row; ``done`` gets ``{"model", "train_acc"}``."""
        self._work += len(self.y) * _fit_cost(estimator)
        self._add(stage, fit_order_cost(estimator, len(self.y)), _refit_all, (estimator, self.X, self.y), done)

    def run(self) -> None:
        """Run every fit, and those the ``done`` callbacks add, to the end; the first error stops the rest."""
        import heapq

        n_queued = max(len(self._ready), 1)
        n = fit_jobs(len(self._ready), self.n_jobs, rows=int(self._work // n_queued))
        if n == 1:
            while self._ready:
                *_, fn, args, done = heapq.heappop(self._ready)
                done(fn(*args))
                if self.tick is not None:
                    self.tick()
            return
        from concurrent.futures import FIRST_COMPLETED, wait

        ex = _executor(n)
        running: dict[Any, Callable[[Any], None]] = {}
        try:
            while self._ready or running:
                while self._ready and len(running) < n:  # one fit per worker: the next is chosen when one ends
                    *_, fn, args, done = heapq.heappop(self._ready)
                    running[ex.submit(fn, *args)] = done
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    done = running.pop(fut)
                    done(fut.result())
                    if self.tick is not None:
                        self.tick()
        except BaseException:
            for fut in running:
                fut.cancel()
            raise


def fit_many(
    jobs: Sequence[tuple[Any, Any, Any]],
    X: Any,  # noqa: N803
    y: Any,
    *,
    n_jobs: int | str | None = "auto",
    proba: bool = False,
    tick: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Fit a fresh clone of each ``(estimator, train_idx, val_idx)`` and score it; in order, one dict per job:
    ``train_acc``, ``val_acc``, ``n_train`` (and ``val_proba``/``train_proba``/``classes`` with ``proba``).

    The fits are independent, so they run in ``n_jobs`` worker processes (:class:`FitRunner`): on 2 cores a grid
    search finishes ~1.8× sooner, with the same numbers (every estimator carries its seed). ``tick`` is called as
    each fit completes.
    """
    runner = FitRunner(X, y, n_jobs=n_jobs, tick=tick)
    results: list[dict[str, Any]] = [{} for _ in jobs]
    for i, (est, train, val) in enumerate(jobs):
        runner.fit(est, train, val, store_at(results, i), proba=proba)
    runner.run()
    return results


def store_at(into: Any, key: Any) -> Callable[[Any], None]:
    """A ``done`` callback for :class:`FitRunner` that stores its result at ``into[key]``."""

    def store(value: Any) -> None:
        into[key] = value

    return store


def curve_part(train: Any, y: Any, frac: float, seed: int) -> Any:
    """The rows of a fold's training part ``train`` that a learning curve fits at size ``frac``: a stratified
    ``frac`` of them (seeded), all of them at 1.0."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    if frac >= 1.0:
        return train
    n_classes = len(np.unique(y[train]))
    n_keep = max(int(round(frac * len(train))), n_classes)
    try:
        part, _ = train_test_split(train, train_size=n_keep, random_state=seed, stratify=y[train])
    except ValueError:  # a class too small to stratify at this size
        part, _ = train_test_split(train, train_size=n_keep, random_state=seed)
    return part


def curve_summary(rows: Sequence[Sequence[int]], train: Sequence[Sequence[float]], val: Sequence[Sequence[float]]):
    """A learning curve from per-size lists of per-fold training rows and train / validation accuracies:
    ``{"sizes", "train_mean", "train_std", "val_mean", "val_std"}`` (``sizes``: mean rows)."""
    import numpy as np

    return {
        "sizes": [int(round(np.mean(r))) for r in rows],
        "train_mean": [float(np.mean(s)) for s in train],
        "train_std": [float(np.std(s)) for s in train],
        "val_mean": [float(np.mean(s)) for s in val],
        "val_std": [float(np.std(s)) for s in val],
    }


def learning_curve(
    estimator: Any,
    X: Any,  # noqa: N803
    y: Any,
    cv: Any,
    *,
    sizes: Sequence[float] = (0.2, 0.4, 0.6, 0.8, 1.0),
    groups: Any = None,
    seed: int = 42,
    tick: Callable[[], None] | None = None,
    n_jobs: int | str | None = "auto",
    full: dict[str, Sequence[float]] | None = None,
) -> dict[str, list[float]]:
    """Train and validation accuracy (mean and sd over folds) by training-set size (fits in ``n_jobs`` processes,
    see :class:`FitRunner`).

    For every fold, the model is fitted on a stratified fraction of the fold's training part (:func:`curve_part`)
    and scored on that part and on the fold's validation part. Returns ``{"sizes", "train_mean", "train_std",
    "val_mean", "val_std"}``; ``sizes`` are mean absolute row counts. ``tick`` is called after each fit
    (``len(sizes) × folds`` fits). ``full``: the per-fold ``{"train": [...], "val": [...]}`` accuracies of
    ``estimator`` already fitted on the whole training part of each of these folds (a grid search has them): size
    1.0 then costs no fit. (:func:`trackscope.models.tabular.fit_models` draws every family's curve this way, within
    its search.)
    """
    import numpy as np

    X = np.asarray(X)  # noqa: N806
    y = np.asarray(y)
    rows: list[list[int]] = [[] for _ in sizes]
    tr_scores: list[list[float]] = [[] for _ in sizes]
    val_scores: list[list[float]] = [[] for _ in sizes]
    splits = list(cv.split(X, y, groups))
    keys = [(i, f) for f in range(len(splits)) for i, frac in enumerate(sizes) if frac < 1.0 or full is None]
    jobs = [(estimator, curve_part(splits[f][0], y, sizes[i], seed), splits[f][1]) for i, f in keys]
    results = dict(zip(keys, fit_many(jobs, X, y, n_jobs=n_jobs, tick=tick), strict=True))
    for i, frac in enumerate(sizes):
        for f, (train, _) in enumerate(splits):
            if frac >= 1.0 and full is not None:
                rows[i].append(len(train))
                continue
            res = results[(i, f)]
            rows[i].append(res["n_train"])
            tr_scores[i].append(res["train_acc"])
            val_scores[i].append(res["val_acc"])
        if frac >= 1.0 and full is not None:
            tr_scores[i] = [float(v) for v in full["train"]]
            val_scores[i] = [float(v) for v in full["val"]]
            if tick is not None:
                for _ in full["val"]:
                    tick()
    return curve_summary(rows, tr_scores, val_scores)


def permutation_importance(
    estimator: Any,
    X: Any,  # noqa: N803
    y: Any,
    *,
    n_repeats: int = 10,
    seed: int = 0,
    columns: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Drop of accuracy when one column's values are shuffled, ``n_repeats`` times per column.

    The same numbers as ``sklearn.inspection.permutation_importance(..., scoring="accuracy")`` with the same
    ``random_state`` (its shuffles, repeated on the same column copy), but each column's ``n_repeats`` shuffled
    copies are predicted in one call: a pipeline's fixed cost per call (checks, scaling, a forest's thread set-up)
    is paid once per column instead of once per repeat (~5× sooner for the mood ensemble on 302 rows). Returns
    ``{"importances_mean", "importances_std", "importances"}`` (arrays: per column; per column × repeat), for
    ``columns`` only when given (each column's shuffles depend on the seed alone, so columns can be split between
    processes: see :func:`permutation_importance_later`).
    """
    import numpy as np

    X = np.asarray(X)  # noqa: N806
    y = np.asarray(y)
    n = len(y)
    seed_for_columns = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    baseline = float(np.mean(estimator.predict(X) == y))
    columns = list(range(X.shape[1])) if columns is None else list(columns)
    scores = np.empty((len(columns), n_repeats))
    for i, j in enumerate(columns):
        rs = np.random.RandomState(seed_for_columns)
        order = np.arange(n)
        column = X[:, j].copy()
        stacked = np.repeat(X[None, :, :], n_repeats, axis=0)
        for r in range(n_repeats):
            rs.shuffle(order)
            column = column[order]
            stacked[r, :, j] = column
        pred = np.asarray(estimator.predict(stacked.reshape(n_repeats * n, X.shape[1]))).reshape(n_repeats, n)
        scores[i] = np.mean(pred == y[None, :], axis=1)
    importances = baseline - scores
    return {
        "importances_mean": importances.mean(axis=1),
        "importances_std": importances.std(axis=1),
        "importances": importances,
    }


def permutation_importance_later(
    workers: int,
    estimator: Any,
    X: Any,  # noqa: N803
    y: Any,
    *,
    n_repeats: int = 10,
    seed: int = 0,
) -> Callable[[], dict[str, Any]]:
    """:func:`permutation_importance` started now, its columns split between the ``workers`` processes of
    :func:`warm_workers` (see :func:`in_background`); returns a function that waits for the whole result."""
    import numpy as np

    n_columns = np.asarray(X).shape[1]
    chunks = [c for c in np.array_split(np.arange(n_columns), max(1, min(workers, n_columns))) if len(c)]
    parts = [
        in_background(workers, permutation_importance, estimator, X, y, n_repeats=n_repeats, seed=seed,
                      columns=[int(j) for j in chunk])
        for chunk in chunks
    ]  # fmt: skip

    def gather() -> dict[str, Any]:
        got = [part() for part in parts]
        return {
            key: np.concatenate([g[key] for g in got]) for key in ("importances_mean", "importances_std", "importances")
        }

    return gather


def overfit_flag(train_score: float, cv_score: float, *, gap: float = OVERFIT_GAP) -> bool:
    """True when the train score exceeds the cross-validated score by more than ``gap``."""
    return bool(train_score - cv_score > gap)


def describe_choice(
    models: dict[str, dict[str, Any]], chosen: str, *, score: str = "accuracy", gap: float = OVERFIT_GAP
) -> dict[str, Any]:
    """The model-choice rule in words, and what it means for ``chosen``, from a metrics ``models`` table
    (``{name: {"cv_mean", "gap", "overfit", ...}}``).

    The rule is the highest mean CV score; the overfitting flag (train − CV above ``gap``) is reported, never used to
    choose: CV scores each model on rows it did not learn from, which is what predicts new songs, while the gap says
    how much it memorised. Preferring an unflagged model within one standard error of the best CV score was measured
    and rejected: on the mood study's table it lowered test accuracy from 0.703 to 0.692 (mean of 5 splits;
    ``bench/mood_choice_rule.py``).

    Returns ``{"rule", "chosen", "overfit", "gap", "best_unflagged", "best_unflagged_cv", "note"}``; ``note`` is
    None unless the chosen model is flagged, else one sentence saying so.
    """
    rule = f"highest mean CV {score}; overfit flag = train − CV {score} above {gap:.2f} (reported, not used to choose)"
    r = models.get(chosen, {})
    flagged = bool(r.get("overfit"))
    unflagged = {n: m for n, m in models.items() if not m.get("overfit") and isinstance(m.get("cv_mean"), float)}
    alt = max(unflagged, key=lambda n: unflagged[n]["cv_mean"]) if unflagged else None
    note = None
    if flagged:
        note = (
            f"{chosen} is flagged as overfitting (train − CV gap {r.get('gap', float('nan')):.2f} > {gap:.2f}): it "
            "fits its training rows far better than new ones."
        )
        if alt is not None:
            note += (
                f" It is kept because its CV {score}, the estimate for new songs, is the highest ({r['cv_mean']:.3f}; "
                f"best unflagged: {alt}, {unflagged[alt]['cv_mean']:.3f})."
            )
        else:
            note += " Every model is flagged."
    return {
        "rule": rule,
        "chosen": chosen,
        "overfit": flagged,
        "gap": r.get("gap"),
        "best_unflagged": alt,
        "best_unflagged_cv": None if alt is None else unflagged[alt]["cv_mean"],
        "note": note,
    }


def parse_label_map(text: str | dict[str, str] | None) -> dict[str, str]:
    """``"calm=Relaxing, sad=Dark"`` → ``{"calm": "Relaxing", "sad": "Dark"}`` (keys lower-cased)."""
    if not text:
        return {}
    if isinstance(text, dict):
        return {str(k).strip().lower(): str(v).strip() for k, v in text.items()}
    out: dict[str, str] = {}
    for part in str(text).split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"label map entry {part.strip()!r} is not of the form old=new")
        old, new = part.split("=", 1)
        if not old.strip() or not new.strip():
            raise ValueError(f"label map entry {part.strip()!r} is not of the form old=new")
        out[old.strip().lower()] = new.strip()
    return out


def match_labels(values: Sequence[Any], classes: Sequence[str], label_map: dict[str, str] | None = None) -> list:
    """Map raw labels onto ``classes``: apply ``label_map`` (case-insensitive keys), then match case-insensitively.

    Returns a list with the matching class, or None where the label is not one of ``classes``.
    """
    mapping = {k.lower(): v for k, v in (label_map or {}).items()}
    by_lower = {str(c).lower(): c for c in classes}
    out = []
    for v in values:
        text = str(v).strip()
        text = mapping.get(text.lower(), text)
        out.append(by_lower.get(text.lower()))
    return out
