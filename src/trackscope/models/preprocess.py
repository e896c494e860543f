"""Feature hygiene shared by every model pipeline: no scaler may divide by rounding noise.

A feature that never varied in training (a musicnn channel whose filter decayed to nothing, a column a table holds
constant) still differs by a few float32 ulps from one machine's float path to another's. Standardised by a
training spread of ~1e-17, that noise becomes values of ±100 and decides the class (measured on ``builtin:mood``
before this module existed: 634 of 2,105 inputs; 20 of 30 of its own training clips right instead of 28).

:class:`DropNearConstant` is the first step of every trackscope pipeline: it keeps a column only if its spread over
the training rows is well above float32 rounding of the column's magnitude (:data:`RTOL`) and above an absolute
floor for columns that sit at zero (:data:`ATOL`). Only scikit-learn and numpy types are stored in it, so a pipeline
holding it still saves with skops and loads with the trusted-type list (``trackscope.`` types are trusted).
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin

# float32 carries ε ≈ 1.2e-7 relative; a feature computed through a chain of float32 operations (a network, a mean
# over patches) differs between CPU code paths by up to ~1e-6 of its magnitude. A spread of 1e-4 of the magnitude
# is ~800 ulps: a rounding difference moves a standardised value by ≤ 1e-2 there, and real features sit far above.
RTOL = 1e-4
# Features near zero: noise measured at 1e-13–1e-12 absolute on dead musicnn channels; a spread of 1e-9 keeps a
# 1e-12 difference below 1e-3 of a standard deviation.
ATOL = 1e-9


def near_constant(x: Any, *, rtol: float = RTOL, atol: float = ATOL) -> Any:
    """Boolean mask of the columns of ``x`` (n × d) whose standard deviation is within rounding of constant."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {x.shape}")
    finite = np.where(np.isfinite(x), x, np.nan)
    with np.errstate(all="ignore"):
        sd = np.nan_to_num(np.nanstd(finite, axis=0), nan=0.0)
        magnitude = np.nan_to_num(np.nanmax(np.abs(finite), axis=0), nan=0.0)
    return (sd <= rtol * magnitude) | (sd <= atol)


class DropNearConstant(TransformerMixin, BaseEstimator):
    """Drop the columns that are constant up to float rounding in the training rows (see :func:`near_constant`).

    Attributes after ``fit``: ``keep_`` (bool mask over the input columns), ``center_`` (training column means, for
    explanations that set a feature to its mean), ``n_features_in_``. If every column is near-constant the widest
    one is kept, so the pipeline still has an input.
    """

    def __init__(self, rtol: float = RTOL, atol: float = ATOL) -> None:
        self.rtol = rtol
        self.atol = atol

    def fit(self, X: Any, y: Any = None) -> DropNearConstant:
        import numpy as np

        x = np.asarray(X, dtype=np.float64)
        drop = near_constant(x, rtol=self.rtol, atol=self.atol)
        if drop.all():
            drop[int(np.argmax(np.nanstd(x, axis=0)))] = False
        self.keep_ = ~drop
        with np.errstate(all="ignore"):
            self.center_ = np.nan_to_num(np.nanmean(x, axis=0), nan=0.0)
        self.n_features_in_ = x.shape[1]
        names = getattr(X, "columns", None)
        if names is not None:
            self.feature_names_in_ = np.asarray([str(c) for c in names], dtype=object)
        return self

    def transform(self, X: Any) -> Any:
        import numpy as np

        if not hasattr(self, "keep_"):
            raise ValueError("DropNearConstant is not fitted")
        cols = getattr(X, "columns", None)
        if cols is not None and hasattr(X, "iloc"):  # keep a DataFrame a DataFrame (column names for later steps)
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"expected {self.n_features_in_} columns, got {X.shape[1]}")
            return X.iloc[:, np.flatnonzero(self.keep_)]
        x = np.asarray(X)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} columns, got shape {x.shape}")
        return x[:, self.keep_]

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        import numpy as np

        if input_features is None:
            input_features = getattr(self, "feature_names_in_", None)
        if input_features is None:
            input_features = [f"x{i}" for i in range(self.n_features_in_)]
        return np.asarray(input_features, dtype=object)[self.keep_]


# Where an edge sits in the gap between two adjacent distinct training values a < b: a + (b − a) / φ. Not the
# midpoint: data on a grid (Spotify's three decimals) puts new values exactly on midpoints (0.949 between 0.948 and
# 0.950), and any rounding then decides the side. Multiples of 1/φ stay far from whole numbers (for gaps of up to
# 100 grid steps, ≥ 0.004 of a step from every grid point), so no value on the data's grid lands within rounding of
# an edge.
GAP_FRACTION = 0.6180339887498949


class GapBins(TransformerMixin, BaseEstimator):
    """Each column as the number of its bin (0, 1, …) between edges that lie inside the gaps between adjacent
    distinct training values, never on a value (at :data:`GAP_FRACTION` of the gap); NaN stays NaN. ``max_bins``
    None: one bin per distinct value (an order-preserving code: a tree fitted on the codes makes the same splits);
    a number: at most that many bins, holding about equal numbers of training rows.

    The step before every tree model. scikit-learn's trees split halfway between two training values, and a new
    value on the data's grid can sit exactly there (a forest moved 10 % of the mood study's rows under 1e-6 relative
    changes); its histogram boosting bins a column with more than 255 distinct values at quantiles that *are*
    training values, so every row holding one sits on an edge (56 % of the rows moved, by up to 0.45). On the codes,
    a tree splits between whole numbers, and a value changes code only within rounding of an edge.
    """

    def __init__(self, max_bins: int | None = None) -> None:
        self.max_bins = max_bins

    def fit(self, X: Any, y: Any = None) -> GapBins:
        import numpy as np

        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"expected a 2-D array, got shape {x.shape}")
        if self.max_bins is not None and (not isinstance(self.max_bins, int) or self.max_bins < 2):
            raise ValueError(f"max_bins must be None or a whole number of at least 2, got {self.max_bins!r}")
        self.edges_ = [self._edges(x[:, j]) for j in range(x.shape[1])]
        self.n_features_in_ = x.shape[1]
        return self

    def _edges(self, column: Any) -> Any:
        import numpy as np

        values = np.sort(column[~np.isnan(column)])
        distinct = np.unique(values)
        if len(distinct) <= 1:
            return np.empty(0)
        if self.max_bins is None or len(distinct) <= self.max_bins:
            cut = np.arange(len(distinct) - 1)
        else:  # bins of about equal numbers of rows, as scikit-learn's boosting would make
            at = np.quantile(values, np.linspace(0.0, 1.0, self.max_bins + 1)[1:-1], method="inverted_cdf")
            cut = np.unique(np.searchsorted(distinct, at))
            cut = cut[cut < len(distinct) - 1]
        low, high = distinct[cut], distinct[cut + 1]
        edges = low + (high - low) * GAP_FRACTION
        return np.where(np.isfinite(edges), edges, (low + high) / 2.0)

    def transform(self, X: Any) -> Any:
        import numpy as np

        if not hasattr(self, "edges_"):
            raise ValueError("GapBins is not fitted")
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} columns, got shape {x.shape}")
        out = np.empty_like(x)
        for j, edges in enumerate(self.edges_):
            out[:, j] = np.searchsorted(edges, x[:, j], side="left")
        out[np.isnan(x)] = np.nan
        return out
