"""Track rows and tables for the Spotify collector: playlist ids and label maps in, the output table out.

The output uses the column names trackscope's table reader expects (:mod:`trackscope.sources.tables`): the
metadata columns, the mood study's audio features, and the label column for playlist collections.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from trackscope.constants import SPOTIFY_FEATURES
from trackscope.errors import CollectError

METADATA_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "artists",
    "album",
    "release_date",
    "duration_ms",
    "popularity",
    "explicit",
    "preview_url",
)
# The study's 10 features (duration_ms is already a metadata column) plus the other audio-features fields.
FEATURE_COLUMNS: tuple[str, ...] = tuple(f for f in SPOTIFY_FEATURES if f != "duration_ms") + (
    "key",
    "mode",
    "time_signature",
)
_PLAYLIST_ID = re.compile(
    r"^(?:spotify:playlist:|(?:https?://)?open\.spotify\.com/(?:intl-[\w-]+/)?(?:user/[^/]+/)?playlist/)?"
    r"(?P<id>[0-9A-Za-z]{10,40})(?:[?#].*)?$"
)


def playlist_id(text: str) -> str:
    """A playlist id from an id, a ``spotify:playlist:…`` URI or an open.spotify.com URL."""
    match = _PLAYLIST_ID.match(text.strip())
    if not match:
        raise CollectError(f"not a Spotify playlist id, URI or URL: {text!r}")
    return match.group("id")


def check_out(out: Path) -> Path:
    out = Path(out)
    if out.suffix.lower() not in {".csv", ".parquet"}:
        raise CollectError("the output must end in .csv or .parquet", path=out)
    return out


def playlist_labels(
    playlists: list[str], label: str | None, from_csv: Path | None, label_column: str
) -> dict[str, str]:
    pairs: list[tuple[str, str, str]] = []  # (id, label, where)
    if playlists:
        if not label:
            raise CollectError("give --label LABEL for the playlists on the command line (or use --from-csv)")
        pairs += [(playlist_id(p), label, "command line") for p in playlists]
    if from_csv is not None:
        pairs += _read_playlist_csv(Path(from_csv), label_column)
    if not pairs:
        raise CollectError("give at least one playlist (id, URI or URL) or --from-csv FILE")
    labels: dict[str, str] = {}
    for pid, lab, where in pairs:
        if labels.get(pid, lab) != lab:
            raise CollectError(f"playlist {pid} is given two labels ({labels[pid]!r} and {lab!r}, {where})")
        labels[pid] = lab
    return labels


def _read_playlist_csv(path: Path, label_column: str) -> list[tuple[str, str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except OSError as err:
        raise CollectError(f"cannot read the playlist map ({err.strerror})", path=path) from None
    if not rows:
        raise CollectError("the playlist map is empty; expected columns playlist,label", path=path)
    header = [h.strip().lower() for h in rows[0]]
    if "playlist" in header:
        pi = header.index("playlist")
        names = [n for n in ("label", label_column.lower(), "mood") if n in header]
        if not names:
            raise CollectError(f"no label column (label or {label_column}) in {header}", path=path)
        li, body = header.index(names[0]), rows[1:]
    else:
        pi, li, body = 0, 1, rows
    out = []
    for n, row in enumerate(body, start=2 if body is not rows else 1):
        if not any(c.strip() for c in row):
            continue
        if len(row) <= max(pi, li) or not row[pi].strip() or not row[li].strip():
            raise CollectError(f"line {n}: expected a playlist and a label", path=path)
        try:
            out.append((playlist_id(row[pi]), row[li].strip(), f"{path.name} line {n}"))
        except CollectError as err:
            raise CollectError(f"line {n}: {err}", path=path) from None
    return out


def track_row(track: dict[str, Any]) -> dict[str, Any] | None:
    """The metadata columns of a Spotify track object (None for episodes, local files and removed tracks)."""
    if not isinstance(track, dict) or not track.get("id") or track.get("is_local"):
        return None
    if track.get("type", "track") != "track":
        return None
    album = track.get("album") or {}
    return {
        "id": track["id"],
        "name": track.get("name"),
        "artists": ", ".join(a.get("name", "") for a in track.get("artists") or [] if isinstance(a, dict)),
        "album": album.get("name"),
        "release_date": album.get("release_date"),
        "duration_ms": track.get("duration_ms"),
        "popularity": track.get("popularity"),
        "explicit": track.get("explicit"),
        "preview_url": track.get("preview_url"),
    }


def write_table(rows: list[dict[str, Any]], columns: list[str], out: Path) -> None:
    """CSV or Parquet by suffix, atomically (temp file + rename)."""

    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns)
    for col in ("duration_ms", "popularity", "key", "mode", "time_signature"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    for col in FEATURE_COLUMNS:
        if col not in ("key", "mode", "time_signature"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["explicit"] = frame["explicit"].astype("boolean")
    from trackscope._atomic import write_frame

    write_frame(frame, out)
