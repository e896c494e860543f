"""Resumable progress of a Spotify collection: an append-only JSONL journal in ``OUT.partial/``.

Every finished unit of work (a playlist page, a search page, a batch of audio features) is appended as one JSON
line and flushed to disk (``fsync``) before the next request, so a crash or Ctrl-C loses at most the request in
flight. A torn last line (the process died mid-write) is ignored on reading, so that unit is simply fetched again.
The folder is removed once the output table has been written. Nothing secret is ever written here: records hold
only track metadata, cursors and settings.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trackscope.errors import CollectError

JOURNAL = "progress.jsonl"
LOCK = "lock"


def partial_dir(out: Path) -> Path:
    """The checkpoint folder beside an output file: ``tracks.csv`` → ``tracks.csv.partial/``."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


class Checkpoint:
    """An append-only journal of records (dicts with a ``"t"`` type key).

    Parameters
    ----------
    out
        The output table; the journal lives in ``partial_dir(out)``.
    meta
        Settings the run depends on. A journal written with other settings is refused, so a resume never mixes
        two different collections.
    """

    def __init__(self, out: Path, meta: dict[str, Any]) -> None:
        self.folder = partial_dir(out)
        self.path = self.folder / JOURNAL
        self.records: list[dict[str, Any]] = []
        self._lock = self._acquire()
        try:
            self._load(meta)
        except BaseException:
            self.close()
            raise

    def _acquire(self) -> Any:
        """An exclusive lock on the folder, so two runs never write one journal (released when the process ends)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fh = open(self.folder / LOCK, "a+b")  # noqa: SIM115 — held open until close()
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, as before
            return fh
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise CollectError(
                "another trackscope collect is writing to this checkpoint; wait for it or stop it first",
                path=self.folder,
            ) from None
        return fh

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _load(self, meta: dict[str, Any]) -> None:
        if self.path.exists():
            self._truncate_torn_tail()
            self.records = list(self._read())
        self.resumed = bool(self.records)
        if self.records:
            found = self.records[0]
            if found.get("t") != "meta" or found.get("meta") != meta:
                raise CollectError(
                    f"holds the progress of a different collection ({_describe(found.get('meta'))}); "
                    "rerun with the same settings to resume it, or delete the folder to start over",
                    path=self.folder,
                )
        else:
            self.append({"t": "meta", "meta": meta})

    def _read(self) -> Iterator[dict[str, Any]]:
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break  # torn last line: that unit of work is redone
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    break
                if isinstance(record, dict):
                    yield record

    def _truncate_torn_tail(self) -> None:
        """Cut a partly written last line so the next append starts on a fresh line."""
        if not self.path.exists():
            return
        good = 0
        with open(self.path, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break
                try:
                    json.loads(line)
                except ValueError:
                    break
                good += len(line)
        if good != self.path.stat().st_size:
            with open(self.path, "r+b") as fh:
                fh.truncate(good)

    def append(self, record: dict[str, Any]) -> None:
        """Add one record durably (flush + fsync)."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self.records.append(record)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("t") == kind]

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _describe(meta: Any) -> str:
    if not isinstance(meta, dict):
        return "unreadable settings"
    return ", ".join(f"{k}={v}" for k, v in meta.items())
