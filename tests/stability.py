"""Float-sized perturbations of a model's inputs: what a different CPU's rounding does to the same features.

A feature computed through a chain of float32 operations differs between machines (SIMD width, FMA, summation order)
by up to ~1e-6 of its magnitude, and features that sit at zero by ~1e-12 absolute. A model whose probabilities move
by more than :data:`PROBA_TOL` under such a change is deciding by rounding noise (issue 10: the shipped mood model
divided 634 inputs by scales down to 1e-17).
"""

from __future__ import annotations

from typing import Any

import numpy as np

REL = 1e-6  # relative to each feature's magnitude: float32 ε ≈ 1.2e-7 times a short chain of operations
ABS = 1e-12  # on features near zero (|x| ≤ ABS / REL): the noise measured on dead musicnn channels is ≤ 1e-12
PROBA_TOL = 1e-3  # a class probability may move less than this; a mood decided by rounding moves by ~0.1–1


def perturbed(x: Any, rng: np.random.Generator) -> np.ndarray:
    """``x`` (n × d) with each value moved by ±max(REL · |feature's magnitude|, ABS), random signs."""
    x = np.asarray(x, dtype=np.float64)
    magnitude = np.abs(x).max(axis=0, keepdims=True)
    step = np.maximum(REL * magnitude, ABS)
    return x + rng.choice([-1.0, 1.0], size=x.shape) * step


def row_shifts(predict_proba: Any, x: Any, *, draws: int = 10, seed: int = 0) -> np.ndarray:
    """Per row of ``x``, the largest change of any class probability over ``draws`` perturbations."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float64)
    base = np.asarray(predict_proba(x), dtype=np.float64)
    worst = np.zeros(x.shape[0])
    for _ in range(draws):
        moved = np.asarray(predict_proba(perturbed(x, rng)), dtype=np.float64)
        worst = np.maximum(worst, np.abs(moved - base).max(axis=1))
    return worst


def max_shift(predict_proba: Any, x: Any, *, draws: int = 10, seed: int = 0) -> float:
    """The largest change of any class probability over ``draws`` perturbations of ``x``."""
    return float(row_shifts(predict_proba, x, draws=draws, seed=seed).max())


def assert_stable(est: Any, x: Any, name: str = "") -> None:
    """Smooth models: every probability moves < PROBA_TOL. Tree ensembles are step functions: a row within a
    rounding step of one of thousands of split points flips a tree, so for them at most 2 % of rows may move, by at
    most two trees' votes, and no predicted class may change."""
    clf = est.steps[-1][1] if hasattr(est, "steps") else est
    shifts = row_shifts(est.predict_proba, x)
    trees = getattr(clf, "n_estimators", None) if hasattr(clf, "estimators_") else None
    if trees is None:
        assert shifts.max() < PROBA_TOL, f"{name}: probabilities moved by {shifts.max():.3g}"
        return
    moved = shifts >= PROBA_TOL
    assert moved.mean() <= 0.02, f"{name}: {moved.sum()} of {len(shifts)} rows moved"
    assert shifts.max() <= 2.0 / trees + 1e-12, f"{name}: moved by {shifts.max():.3g} (> 2 of {trees} trees)"
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(est.predict(perturbed(x, rng)), est.predict(np.asarray(x, dtype=np.float64)))
