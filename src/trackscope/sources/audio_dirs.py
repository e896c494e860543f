"""Folders of audio plus a CSV of labels: find each labelled id's file, report what is missing.

A label file names tracks by id (``song_id``) or by file name; trackscope looks for ``<id>.<audio suffix>``
anywhere under the audio folder (recursively), so ``Q1/MT0001.mp3`` and ``MT0001.mp3`` both match id ``MT0001``.
An id column whose values are relative paths (``Q1/MT0001.mp3``) works too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackscope.constants import AUDIO_SUFFIXES
from trackscope.errors import TrackscopeError


def walk_audio(paths: Iterable[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand files and folders into audio files (sorted, unique). Returns ``(files, problems)`` where a problem is
    ``(path, reason)`` for a path that does not exist; a named file is kept whatever its suffix."""
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                q
                for q in p.rglob("*")
                if q.suffix.lower() in AUDIO_SUFFIXES and q.is_file() and not q.name.startswith(".")
            )
            if not found and p.suffix.lower() in AUDIO_SUFFIXES:
                problems.append((str(p), "is a folder, not an audio file"))
            for q in found:
                if q not in seen:
                    seen.add(q)
                    files.append(q)
        elif p.exists():
            if p not in seen:
                seen.add(p)
                files.append(p)
        else:
            problems.append((str(p), "no such file or folder"))
    return files, problems


@dataclass
class LabelledAudio:
    """Labelled clips: parallel lists, plus the ids whose audio was not found."""

    ids: list[str]
    paths: list[Path]
    labels: list[str]
    groups: list[str] | None
    missing: list[str] = field(default_factory=list)
    labels_path: Path | None = None

    def __len__(self) -> int:
        return len(self.ids)


def read_labels(
    labels: str | Path,
    *,
    id_column: str | None = None,
    label: str | None = None,
    group_column: str | None = None,
) -> Any:
    """Read a label CSV; returns a DataFrame with the named columns checked (case-insensitive names)."""
    import pandas as pd

    path = Path(labels)
    if not path.is_file():
        raise TrackscopeError("label file not found", path=path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as err:  # noqa: BLE001 — any parse failure is bad input
        raise TrackscopeError(f"cannot read label CSV: {err}", path=path) from None
    if frame.empty:
        raise TrackscopeError("label file has no rows", path=path)
    lower = {c.lower().strip(): c for c in frame.columns}
    for name in (id_column, label, group_column):
        if name is not None and name.lower() not in lower:
            raise TrackscopeError(
                f"no column {name!r} (columns: {', '.join(map(str, frame.columns))})",
                path=path,
            )
    return frame.rename(columns={lower[n.lower()]: n for n in (id_column, label, group_column) if n is not None})


def find_labelled_audio(
    audio_dir: str | Path,
    labels: str | Path,
    *,
    id_column: str = "song_id",
    label: str | None = "quadrant",
    group_column: str | None = None,
) -> LabelledAudio:
    """Match the rows of a label CSV with audio files under ``audio_dir`` (recursively, by file stem or relative path).

    Rows whose audio is missing are counted in ``missing``; an empty match is an error.
    """
    root = Path(audio_dir)
    if not root.is_dir():
        raise TrackscopeError("audio folder not found", path=root)
    frame = read_labels(labels, id_column=id_column, label=label, group_column=group_column)
    files, _ = walk_audio([root])
    by_stem: dict[str, Path] = {}
    for f in files:
        by_stem.setdefault(f.stem, f)
        by_stem.setdefault(f.relative_to(root).as_posix(), f)
    ids, paths, labs, groups, missing = [], [], [], [], []
    for _, row in frame.iterrows():
        key = str(row[id_column]).strip()
        hit = by_stem.get(key) or by_stem.get(Path(key).stem)
        if hit is None:
            missing.append(key)
            continue
        ids.append(key)
        paths.append(hit)
        labs.append(str(row[label]).strip() if label else "")
        if group_column:
            groups.append(str(row[group_column]).strip())
    if not ids:
        raise TrackscopeError(
            f"none of the {len(frame)} ids in column {id_column!r} matched an audio file under {root}",
            path=labels,
        )
    return LabelledAudio(ids, paths, labs, groups if group_column else None, missing, Path(labels))
