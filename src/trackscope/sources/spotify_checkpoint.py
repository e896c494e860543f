"""Resumable progress of a Spotify collection: the shared append-only journal (:mod:`trackscope._journal`) in
``OUT.partial/``.

Every finished unit of work (a playlist page, a search page, a batch of audio features) is appended as one JSON
line and flushed to disk (``fsync``) before the next request, so a crash or Ctrl-C loses at most the request in
flight. A torn last line (the process died mid-write) is ignored on reading, so that unit is simply fetched again.
The journal is removed once the output table has been written. Nothing secret is ever written here: records hold
only track metadata, cursors and settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trackscope._journal import JOURNAL, LOCK, Journal
from trackscope.errors import CollectError

__all__ = ["Checkpoint", "partial_dir", "JOURNAL", "LOCK"]


def partial_dir(out: Path) -> Path:
    """The checkpoint folder beside an output file: ``tracks.csv`` → ``tracks.csv.partial/``."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


class Checkpoint(Journal):
    """The journal of a collection into the table ``out`` (kept in ``partial_dir(out)``). ``meta``: the settings
    the run depends on; a journal written with other settings is refused, so a resume never mixes two different
    collections."""

    def __init__(self, out: Path, meta: dict[str, Any]) -> None:
        super().__init__(partial_dir(out), meta, command="collect", run_noun="collection", error=CollectError)
