"""Spotify-feature tables (CSV or Parquet): one reader, canonical column names, clear one-line errors.

Real tables spell the same thing differently (``length`` vs ``duration_ms``, ``track_id`` vs ``id``,
``Energy`` vs ``energy``). :func:`read_table` lower-cases headers, maps known aliases to one canonical name, drops
unnamed index columns, normalises Spotify ids and drops duplicate ids. :meth:`Table.require` then checks what a task
needs (feature columns present and numeric, a label column with enough rows per class) and drops rows with missing
values, counting everything it drops in :attr:`Table.stats`.

Example
-------
>>> table = read_table("moods.csv").require(["energy", "valence"], label="mood")  # doctest: +SKIP
>>> table.stats["duplicates_dropped"], table.frame.shape  # doctest: +SKIP
(18, (895, 13))
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trackscope._hash import file_sha256
from trackscope.errors import TableError

# Alternative spellings seen in public Spotify tables → the canonical column name used everywhere in trackscope.
ALIASES: dict[str, str] = {
    "length": "duration_ms",
    "duration": "duration_ms",
    "durationms": "duration_ms",
    "track_popularity": "popularity",
    "track_id": "id",
    "uri": "id",
    "track_uri": "id",
    "spotify_id": "id",
    "track_album_release_date": "release_date",
    "album_release_date": "release_date",
    "track_name": "name",
    "song_name": "name",
    "title": "name",
    "track_artist": "artist",
    "artist_name": "artist",
    "artists": "artist",
    "track_album_name": "album",
    "album_name": "album",
    "playlist_genre": "genre",
    "track_genre": "genre",
    "playlist_subgenre": "subgenre",
    "track_subgenre": "subgenre",
}

_UNNAMED = re.compile(r"^(unnamed(:\s*\d+)?(_level_\d+)?|index|level_0)?$")
_ID_PREFIX = re.compile(r"^(spotify:track:|https?://open\.spotify\.com/(intl-[a-z]+/)?track/)", re.IGNORECASE)


def normalize_name(name: Any) -> str:
    """``" Track ID "`` → ``"track_id"``; then aliases: ``"length"`` → ``"duration_ms"``."""
    text = re.sub(r"[\s\-]+", "_", str(name).strip().lower())
    return ALIASES.get(text, text)


def normalize_id(value: Any) -> Any:
    """``spotify:track:ABC`` or ``https://open.spotify.com/track/ABC?si=…`` → ``ABC``; other values unchanged."""
    if not isinstance(value, str):
        return value
    text = _ID_PREFIX.sub("", value.strip())
    return text.split("?", 1)[0]


@dataclass
class Table:
    """A table read from ``path``: ``frame`` has canonical column names, ``stats`` counts what was dropped."""

    frame: Any  # pandas.DataFrame
    path: Path
    sha256: str
    stats: dict[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] = ()
    label: str | None = None

    def __len__(self) -> int:
        return len(self.frame)

    def column(self, name: str) -> str:
        """The canonical name of ``name`` in this table (case-insensitive, aliases applied); raises if absent."""
        canon = normalize_name(name)
        if canon not in self.frame.columns:
            raise TableError(f"no column {name!r} (columns: {', '.join(map(str, self.frame.columns))})", path=self.path)
        return canon

    def require(self, features: Sequence[str], label: str | None = None, *, min_per_class: int | None = 2) -> Table:
        """Check that ``features`` (and ``label``) are usable and drop rows with missing values.

        Parameters
        ----------
        features : sequence of str
            Columns that must exist and hold numbers (names are matched case-insensitively, aliases applied).
        label : str, optional
            A class column that must exist; its values become stripped strings.
        min_per_class : int or None
            Each class must have at least this many rows after dropping, and there must be two classes (None: no
            check, e.g. when scoring a model on a table that holds a single mood).

        Returns
        -------
        Table
            A new table: features as float, rows with a missing feature or label dropped (counted in
            ``stats["missing_dropped"]``), ``features`` and ``label`` set to the canonical names.
        """
        import numpy as np

        frame = self.frame
        canon = [normalize_name(f) for f in features]
        if not canon:
            raise TableError("no feature columns requested", path=self.path)
        missing = [f for f, c in zip(features, canon, strict=True) if c not in frame.columns]
        if missing:
            raise TableError(
                f"missing feature column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                f"(columns found: {', '.join(map(str, frame.columns))})",
                path=self.path,
            )
        label_canon = None
        if label is not None:
            label_canon = normalize_name(label)
            if label_canon not in frame.columns:
                raise TableError(
                    f"unknown label column {label!r} (columns: {', '.join(map(str, frame.columns))})", path=self.path
                )
        frame = frame.copy()
        line_offset = 2 if self.stats.get("format") == "csv" else None  # header line + 1-based lines
        for col in dict.fromkeys(canon):
            frame[col] = _to_numeric(frame[col], col, self.path, line_offset)
            frame.loc[~np.isfinite(frame[col]), col] = np.nan  # inf counts as missing
        needed = list(dict.fromkeys(canon + ([label_canon] if label_canon else [])))
        if label_canon:
            lab = frame[label_canon]
            if lab.dtype.kind == "f" and lab.dropna().eq(lab.dropna().round()).all():
                lab = lab.astype("Int64")  # 1.0 → "1", not "1.0", when NaN made an integer column float
            frame[label_canon] = lab.where(lab.isna(), lab.astype(str).str.strip()).replace("", np.nan)
        keep = frame[needed].notna().all(axis=1)
        dropped = int((~keep).sum())
        frame = frame.loc[keep]
        if frame.empty:
            why = f" after dropping {dropped} rows with missing values" if dropped else ""
            raise TableError(f"table has no usable rows{why}", path=self.path)
        if label_canon:
            frame[label_canon] = frame[label_canon].astype(str)
            if min_per_class is not None:
                counts = frame[label_canon].value_counts()
                small = counts[counts < min_per_class]
                if len(small):
                    listed = ", ".join(f"{k!r} ({v} row{'s' if v != 1 else ''})" for k, v in small.items())
                    raise TableError(
                        f"class{'es' if len(small) > 1 else ''} {listed} in column {label_canon!r}: each class "
                        f"needs at least {min_per_class} rows (remove it or add rows)",
                        path=self.path,
                    )
            if min_per_class is not None and frame[label_canon].nunique() < 2:
                raise TableError(
                    f"label column {label_canon!r} has a single class {frame[label_canon].iloc[0]!r}; need at least 2",
                    path=self.path,
                )
        stats = {**self.stats, "missing_dropped": self.stats.get("missing_dropped", 0) + dropped, "rows": len(frame)}
        return replace(self, frame=frame, stats=stats, features=tuple(canon), label=label_canon)

    def X(self) -> Any:  # noqa: N802 — scikit-learn's name for the feature matrix
        """The required features as a float numpy array (after :meth:`require`)."""
        return self.frame[list(self.features)].to_numpy(dtype=float)

    def y(self) -> Any:
        """The label column as a numpy array of strings (after :meth:`require` with a label)."""
        if self.label is None:
            raise TableError("no label column was required", path=self.path)
        return self.frame[self.label].to_numpy(dtype=str)


def _to_numeric(series: Any, col: str, path: Path, line_offset: int | None) -> Any:
    """A column as float; the first non-numeric value raises with its row (and file line for CSV)."""
    import pandas as pd

    if series.dtype.kind in "fiu":
        return series.astype(float)
    if series.dtype.kind == "b":
        return series.astype(float)
    stripped = series.map(lambda v: v.strip() if isinstance(v, str) else v)
    values = pd.to_numeric(stripped.replace("", None), errors="coerce")
    bad = values.isna() & stripped.notna() & (stripped != "")
    if bad.any():
        first = bad.idxmax()
        n_bad = int(bad.sum())
        where = f"row {first}" + (f" (line {first + line_offset} of the file)" if line_offset is not None else "")
        more = f" ({n_bad - 1} more non-numeric value{'s' if n_bad > 2 else ''} in this column)" if n_bad > 1 else ""
        raise TableError(f"non-numeric value {series.loc[first]!r} in column {col!r} at {where}{more}", path=path)
    return values.astype(float)


def _read_raw(path: Path) -> tuple[Any, str]:
    import pandas as pd

    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(path), "parquet"
        if name.endswith((".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")):
            sep = "\t" if ".tsv" in name else ","
            if sep == "," and not name.endswith(".gz"):
                with open(path, encoding="utf-8", errors="replace") as fh:
                    head = fh.readline()
                if head.count(";") > head.count(",") and head.count(";") > 0:
                    sep = ";"
                elif head.count("\t") > head.count(","):
                    sep = "\t"
            return pd.read_csv(path, sep=sep, low_memory=False), "csv"
    except pd.errors.EmptyDataError:
        raise TableError("table is empty (no header, no rows)", path=path) from None
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise TableError(f"cannot read the table: {msg}", path=path) from None
    except Exception as err:  # noqa: BLE001 — pyarrow raises its own types for corrupt Parquet files
        raise TableError(f"cannot read the table: {type(err).__name__}: {err}", path=path) from None
    raise TableError(f"unsupported table format {path.suffix!r} (use .csv, .tsv or .parquet)", path=path)


# What a table given as a pandas DataFrame is called in messages and metrics (it has no file).
FRAME_PATH = "<DataFrame>"


def is_frame(data: Any) -> bool:
    """Whether ``data`` is a pandas DataFrame (without importing pandas when it is a path)."""
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns") and hasattr(data, "iloc")


def frame_sha256(frame: Any) -> str:
    """A content hash of a DataFrame (column names and values, not its index): what ``sha256`` is for a file."""
    import hashlib

    import pandas as pd

    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    try:
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists, dicts): their text
        digest.update(frame.to_csv(index=False).encode())
    return digest.hexdigest()


def read_table(path: Any, *, dedupe: str | None = "id") -> Table:
    """Read a CSV or Parquet table of tracks (or take a pandas DataFrame) with canonical column names.

    Parameters
    ----------
    path : str, Path or pandas.DataFrame
        ``.csv`` (comma, semicolon or tab separated), ``.tsv`` or ``.parquet``; or a DataFrame (copied, never
        changed), whose rows are numbered by position and which is named ``<DataFrame>`` in messages.
    dedupe : str or None
        Drop rows whose value in this column (canonical name, default ``"id"``) repeats an earlier row; the count is
        ``stats["duplicates_dropped"]``. Ignored when the column is absent; None keeps every row.

    Returns
    -------
    Table
        ``frame`` indexed by data row (0 = first row under the header), ``sha256`` of the file bytes, ``stats`` with
        ``rows_read``, ``duplicates_dropped``, ``missing_dropped`` (0 until :meth:`Table.require`), ``renamed``
        (original → canonical), ``index_columns_dropped``, ``format``.
    """
    digest = None
    if is_frame(path):
        frame, fmt, digest, path = path.copy(), "dataframe", frame_sha256(path), Path(FRAME_PATH)
    else:
        path = Path(path)
        if not path.exists():
            raise TableError("no such file", path=path)
        if path.is_dir():
            raise TableError("is a folder, not a table file", path=path)
        frame, fmt = _read_raw(path)
    if fmt in ("parquet", "dataframe") and frame.index.name is not None:  # a named index is a real column
        frame = frame.reset_index()
    rows_read = len(frame)
    if rows_read == 0:
        raise TableError("table is empty (a header but no rows)", path=path)

    index_dropped: list[str] = []
    renamed: dict[str, str] = {}
    columns: list[str] = []
    keep: list[int] = []
    for i, col in enumerate(frame.columns):
        raw = str(col).strip().lower()
        if _UNNAMED.match(raw):
            index_dropped.append(str(col))
            continue
        canon = normalize_name(col)
        base, n = canon, 2
        while canon in columns:  # two spellings of one column: keep both, the later one suffixed
            canon, n = f"{base}_{n}", n + 1
        if canon != str(col):
            renamed[str(col)] = canon
        columns.append(canon)
        keep.append(i)
    frame = frame.iloc[:, keep].copy()
    frame.columns = columns
    frame.index = range(len(frame))  # row 0 = the first data row, whatever is dropped later
    if frame.shape[1] == 0:
        raise TableError("table has no named columns", path=path)

    if "id" in frame.columns:
        frame["id"] = frame["id"].map(normalize_id)
    dup = 0
    if dedupe is not None:
        key = normalize_name(dedupe)
        if key in frame.columns:
            mask = frame[key].duplicated(keep="first") & frame[key].notna()
            dup = int(mask.sum())
            frame = frame.loc[~mask]
    stats = {
        "rows_read": rows_read,
        "duplicates_dropped": dup,
        "missing_dropped": 0,
        "rows": len(frame),
        "renamed": renamed,
        "index_columns_dropped": index_dropped,
        "format": fmt,
        "dedupe_column": normalize_name(dedupe) if dedupe is not None else None,
    }
    return Table(frame=frame, path=path, sha256=digest or file_sha256(path), stats=stats)
