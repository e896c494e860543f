"""Preparing popularity data the way the study did: dedupe, 75/15/10 splits, a threshold from the training split.

- :func:`dedupe`: the same (track name, duration, popularity) counts once — the study's rule, which also catches a
  song re-released under another id — and a repeated id counts once.
- :func:`split_indices`: train / test / holdout = 75 / 15 / 10 %, seeded; with ``groups`` (e.g. artists) every
  group lands in one split, so the holdout measures unseen artists.
- :func:`auto_threshold`: the cut between "popular" and "not" from the training split only (see its docstring).
- :func:`metadata_features`: release year and month (from year, year-month or full dates) and explicit.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

SPLITS = ("train", "test", "holdout")
SPLIT_SHARES = (0.75, 0.15, 0.10)

# auto threshold: histogram of the training split's scores in this many equal bins, smoothed with [1, 2, 1] / 4.
HIST_BINS = 20
MODE_MIN_HEIGHT = 0.10  # a mode's smoothed height must reach 10 % of the tallest one to count as a main mode
TROUGH_MAX_RATIO = 0.5  # multi-modal only when the trough between the two main modes is ≤ half the lower mode
# A cut must leave at least a quarter of the training tracks on each side: a trough that only splits off a small
# spike (e.g. the 12 % of TidyTuesday rap tracks at popularity 0-5, re-releases and dead uploads) would model
# "is this track dead?" rather than hit potential.
MIN_CLASS_SHARE = 0.25

METADATA_COLUMNS = ("release_date", "explicit")
METADATA_FEATURES = {
    "release_year": "release_date",
    "release_month": "release_date",
    "release_date_precision": "release_date",  # 1 year, 2 year-month, 3 full date (Spotify's precision field)
    "explicit": "explicit",
}

# Categorical metadata, one-hot encoded as "<column>=<value>" features: the style an artist would file a song under.
# (In playlist-built tables like TidyTuesday's it comes from the playlist a track was found in.)
CATEGORICAL_COLUMNS = ("genre", "subgenre")
MAX_CATEGORIES = 30  # the most frequent values of a column; rarer ones share all-zero codes
MIN_CATEGORY_ROWS = 5


def metadata_source(feature: str) -> str:
    """The table column a metadata feature is computed from (``"subgenre=trap"`` → ``"subgenre"``)."""
    return METADATA_FEATURES.get(feature, feature.split("=", 1)[0])


def _categorical(frame: Any, wanted: Any, out: Any) -> None:
    import pandas as pd

    for col in CATEGORICAL_COLUMNS:
        if wanted is not None:
            values = [w.split("=", 1)[1] for w in wanted if w.startswith(f"{col}=")]
        elif col in frame.columns:
            counts = frame[col].dropna().astype(str).str.strip().value_counts()
            values = [v for v, n in counts.head(MAX_CATEGORIES).items() if n >= MIN_CATEGORY_ROWS]
            values = values if len(values) >= 2 else []  # one value everywhere carries no information
        else:
            values = []
        if not values:
            continue
        text = frame[col].astype(str).str.strip() if col in frame.columns else None
        codes = {}
        for v in values:
            codes[f"{col}={v}"] = (text == v).astype(float) if text is not None else float("nan")
        out[list(codes)] = pd.DataFrame(codes, index=frame.index)


_DATE = re.compile(r"^\s*(\d{4})(?:[-/.](\d{1,2}))?")


def dedupe(frame: Any, *, target: str = "popularity") -> tuple[Any, dict[str, int]]:
    """Drop repeats: first rows with the same (name, duration_ms, target), then rows repeating an earlier id.

    Names compare case- and space-insensitively. Returns the kept rows and the counts
    ``{"rows_read", "same_name_duration_popularity", "same_id", "rows"}``.
    """
    counts = {"rows_read": len(frame), "same_name_duration_popularity": 0, "same_id": 0}
    key = [c for c in ("name", "duration_ms", target) if c in frame.columns]
    if len(key) == 3:
        k = frame[key].copy()
        k["name"] = k["name"].astype(str).str.strip().str.casefold()
        dup = k.duplicated(keep="first") & frame[key].notna().all(axis=1)
        counts["same_name_duration_popularity"] = int(dup.sum())
        frame = frame.loc[~dup]
    if "id" in frame.columns:
        dup = frame["id"].duplicated(keep="first") & frame["id"].notna()
        counts["same_id"] = int(dup.sum())
        frame = frame.loc[~dup]
    counts["rows"] = len(frame)
    return frame, counts


def split_indices(n: int, *, seed: int = 0, groups: Any = None) -> dict[str, np.ndarray]:
    """Positions of the train / test / holdout rows (75 / 15 / 10 %), seeded.

    With ``groups`` (one value per row) whole groups are assigned in a seeded random order until each split has its
    share of the rows, so no group is in two splits. Every split gets at least one row (or group) when possible.
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        order = rng.permutation(n)
        n_train = int(round(n * SPLIT_SHARES[0]))
        n_test = int(round(n * SPLIT_SHARES[1]))
        if n >= 3:
            n_train, n_test = min(n_train, n - 2), max(1, min(n_test, n - n_train - 1))
        parts = np.split(order, [n_train, n_train + n_test])
        return {name: np.sort(p) for name, p in zip(SPLITS, parts, strict=True)}
    g = np.asarray([str(v) for v in groups])
    uniq, inverse, sizes = np.unique(g, return_inverse=True, return_counts=True)
    order = rng.permutation(len(uniq))
    bounds = np.cumsum(SPLIT_SHARES)[:2] * n
    assign = np.empty(len(uniq), dtype=int)
    done = 0
    for rank, gi in enumerate(order):
        # keep the last two groups for test/holdout when there are only a few groups
        left = len(uniq) - rank
        split = 0 if done < bounds[0] else 1 if done < bounds[1] else 2
        if left <= 2 and len(uniq) >= 3:
            split = max(split, 3 - left)
        assign[gi] = split
        done += sizes[gi]
    rows = assign[inverse]
    return {name: np.flatnonzero(rows == i) for i, name in enumerate(SPLITS)}


def auto_threshold(values: Any) -> tuple[float, dict[str, Any]]:
    """The popularity cut learnt from the training split: popular means ``score >= cut``.

    Rule: histogram the scores in :data:`HIST_BINS` equal bins between their minimum and maximum and smooth it with
    a [1, 2, 1] / 4 kernel. A *main mode* is a local maximum at least :data:`MODE_MIN_HEIGHT` of the tallest one.
    Among all pairs of main modes whose trough leaves at least :data:`MIN_CLASS_SHARE` of the scores on each side,
    take the one with the deepest dip between them (lowest bin between the two, relative to the lower mode); when
    that dip is at most :data:`TROUGH_MAX_RATIO` of the lower mode, the histogram is multi-modal and the cut is the
    centre of that deepest trough bin (when several bins tie, the one nearest the middle of the two modes).
    Otherwise (one mode, no clear dip, or only a dip that splits off a small spike) the cut is the median, which
    gives balanced classes.

    Returns ``(cut, info)``; ``info`` holds the rule used, the histogram and the modes for the report.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("no scores to choose a threshold from")
    median = float(np.median(v))
    info: dict[str, Any] = {"rule": "median", "median": median}
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return median, info
    counts, edges = np.histogram(v, bins=HIST_BINS, range=(lo, hi))
    padded = np.concatenate([[counts[0]], counts, [counts[-1]]]).astype(float)
    smooth = (padded[:-2] + 2 * padded[1:-1] + padded[2:]) / 4
    info.update(counts=counts.tolist(), edges=edges.tolist(), smoothed=smooth.tolist())
    from scipy.signal import find_peaks

    # Local maxima, the end bins included (padding below zero); a flat top counts once, at its middle.
    found, _ = find_peaks(np.concatenate([[-1.0], smooth, [-1.0]]))
    peaks = [int(i) - 1 for i in found if smooth[i - 1] >= MODE_MIN_HEIGHT * smooth.max()]
    info["modes"] = [float((edges[i] + edges[i + 1]) / 2) for i in peaks]
    best = None  # (depth ratio, a, b, trough, cut): the pair of main modes with the deepest dip between them
    rejected = []
    for k, a in enumerate(peaks):
        for b in peaks[k + 1 :]:
            if b - a < 2:
                continue
            between = np.arange(a + 1, b)
            deepest = between[smooth[between] == smooth[between].min()]
            trough = int(deepest[np.argmin(np.abs(deepest - (a + b) / 2))])  # ties: nearest the middle
            cut = float((edges[trough] + edges[trough + 1]) / 2)
            share = float(np.mean(v >= cut))
            if min(share, 1 - share) < MIN_CLASS_SHARE:
                rejected.append({"cut": cut, "popular_share": share})
                continue
            ratio = smooth[trough] / min(smooth[a], smooth[b])
            if best is None or ratio < best[0]:
                best = (ratio, a, b, trough, cut)
    if rejected:
        info["rejected_troughs"] = rejected
    if best is not None and best[0] <= TROUGH_MAX_RATIO:
        _, a, b, _, cut = best
        info.update(
            rule="trough", trough=cut, between_modes=[info["modes"][peaks.index(a)], info["modes"][peaks.index(b)]]
        )
        return cut, info
    return median, info


def resolve_threshold(threshold: Any, train_values: Any) -> tuple[float, dict[str, Any]]:
    """``"auto"`` → :func:`auto_threshold` on the training split; a number (or numeric string) → that number."""
    if threshold is None or str(threshold).strip().lower() == "auto":
        return auto_threshold(train_values)
    try:
        cut = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be 'auto' or a number, not {threshold!r}") from None
    return cut, {"rule": "given"}


def parse_release_date(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Release year and month from dates given as ``2019``, ``2019-12`` or ``2019-12-06`` (month NaN when absent)."""
    years, months = [], []
    for v in values:
        text = "" if v is None else str(v)
        if text.endswith(".0"):  # a year column read as float
            text = text[:-2]
        m = _DATE.match(text)
        if m is None:
            years.append(np.nan)
            months.append(np.nan)
            continue
        years.append(float(m.group(1)))
        month = float(m.group(2)) if m.group(2) else np.nan
        months.append(month if 1 <= month <= 12 else np.nan)
    return np.asarray(years, dtype=float), np.asarray(months, dtype=float)


def parse_explicit(values: Any) -> np.ndarray:
    """``True``/``False``/``1``/``0``/``yes``/``no`` → 1.0/0.0; anything else NaN."""
    table = {"true": 1.0, "1": 1.0, "1.0": 1.0, "yes": 1.0, "false": 0.0, "0": 0.0, "0.0": 0.0, "no": 0.0}
    return np.asarray([table.get(str(v).strip().lower(), np.nan) for v in values], dtype=float)


def metadata_features(frame: Any, wanted: Any = None) -> Any:
    """A DataFrame of the metadata features the table supports (or exactly ``wanted``), indexed like ``frame``."""
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    names = list(wanted) if wanted is not None else list(METADATA_FEATURES)
    keep_empty = wanted is not None  # a model that needs a column gets it even if all values are missing here
    if "release_date" in frame.columns and {"release_year", "release_month", "release_date_precision"} & set(names):
        year, month = parse_release_date(frame["release_date"].tolist())
        if "release_year" in names and (keep_empty or np.isfinite(year).any()):
            out["release_year"] = year
        if "release_month" in names and (keep_empty or np.isfinite(month).any()):
            out["release_month"] = month
        if "release_date_precision" in names:
            text = frame["release_date"].astype(str).str.strip()
            full = text.str.match(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}")
            precision = np.where(full, 3.0, np.where(np.isfinite(month), 2.0, 1.0))
            out["release_date_precision"] = np.where(np.isfinite(year), precision, np.nan)
    if "explicit" in frame.columns and "explicit" in names:
        ex = parse_explicit(frame["explicit"].tolist())
        if keep_empty or np.isfinite(ex).any():
            out["explicit"] = ex
    _categorical(frame, wanted, out)
    return out
