"""Novelty scores (trackscope.models.novelty): calibrated on inputs like the training rows, high for others."""

from __future__ import annotations

import numpy as np
import pytest

from trackscope.models import novelty


def _rows(rng, n, d=40, rank=4, noise=0.1):
    """Rows near a fixed low-rank subspace (the 'training kind')."""
    basis = np.random.default_rng(123).standard_normal((rank, d))
    return rng.standard_normal((n, rank)) @ basis + noise * rng.standard_normal((n, d))


def test_same_kind_is_calibrated_and_other_kinds_are_unusual():
    rng = np.random.default_rng(0)
    params = novelty.fit(_rows(rng, 400), seed=0)
    fresh = novelty.score(params, _rows(rng, 2000))
    # held-out rows of the training kind: novelty ≈ uniform on [0, 1], ~1 % above the flag threshold
    assert 0.4 < np.median(fresh) < 0.6
    assert (fresh > novelty.UNUSUAL).mean() < 0.03
    # off the subspace (isotropic noise of the same total power) and far along it: both unusual
    off = rng.standard_normal((50, 40)) * _rows(rng, 400).std()
    far = _rows(rng, 50) * 6
    assert (novelty.score(params, off) > novelty.UNUSUAL).all()
    assert (novelty.score(params, far) > novelty.UNUSUAL).mean() > 0.9
    # a row identical to the training mean is as typical as it gets
    assert novelty.score(params, params["mean"][None, :])[0] < 0.05


def test_fit_is_seeded_and_checked():
    x = _rows(np.random.default_rng(1), 60)
    a, b = novelty.fit(x, seed=3), novelty.fit(x, seed=3)
    assert set(a) == set(novelty.ARRAYS)
    for k in novelty.ARRAYS:  # the same seed and code in this process: exact by construction
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(novelty.fit(x, seed=4)["reference"], a["reference"])
    novelty.check(a, 40)
    with pytest.raises(ValueError, match="do not match"):
        novelty.check(a, 41)
    with pytest.raises(ValueError, match="missing"):
        novelty.check({k: v for k, v in a.items() if k != "reference"}, 40)
    with pytest.raises(ValueError, match="at least 10"):
        novelty.fit(x[:9])


def test_constant_features_do_not_break_the_score():
    rng = np.random.default_rng(2)
    x = _rows(rng, 100)
    x[:, 0] = 5.0  # a feature that never varies in training
    params = novelty.fit(x, seed=0)
    y = _rows(rng, 10)
    y[:, 0] = 5.0
    s = novelty.score(params, y)
    assert np.isfinite(s).all() and (s < 1).all()
    y[:, 0] = 50.0  # ... and then does: unusual
    assert (novelty.score(params, y) > novelty.UNUSUAL).all()
