"""Splitting labelled rows the way the popularity study did: dedupe, 75/15/10 splits, a threshold from the training
split.

- :func:`dedupe`: the same (track name, duration, popularity) counts once — the study's rule, which also catches a
  song re-released under another id — and a repeated id counts once.
- :func:`split_indices`: train / test / holdout = 75 / 15 / 10 %, seeded; with ``groups`` (e.g. artists) every
  group lands in one split, so the holdout measures unseen artists.
- :func:`auto_threshold`: the cut between "popular" and "not" from the training split only (see its docstring).
- :func:`split_summary`: rows, class balance and groups of every split, for metrics and reports.
"""

from __future__ import annotations

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


def split_summary(splits: dict[str, np.ndarray], y: np.ndarray, groups: Any = None) -> dict[str, dict[str, Any]]:
    """Rows, popular share and (with groups) distinct groups of every split."""
    out = {}
    for name, idx in splits.items():
        row: dict[str, Any] = {"n": len(idx), "popular": int(y[idx].sum()), "not_popular": int(len(idx) - y[idx].sum())}
        row["popular_share"] = float(y[idx].mean()) if len(idx) else float("nan")
        if groups is not None:
            row["groups"] = len(set(np.asarray(groups)[idx]))
        out[name] = row
    return out
