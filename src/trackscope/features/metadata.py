"""Release metadata as model inputs: release year and month (from year, year-month or full dates), the date's
precision, explicit, and one-hot genre codes — the non-audio factors the popularity study named as its next step.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

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
