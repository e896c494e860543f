"""Resumable work: an append-only JSONL journal in a folder of its own, for a run that a crash, Ctrl-C or
``kill -9`` may stop and a rerun should continue (``trackscope collect``'s checkpoint, ``analyze --out``'s songs,
the hashes of ``extract --engine ray``).

The first line records the settings the run depends on; a journal written with other settings is refused, so a
resume never mixes two different runs. Every finished unit of work is appended as one JSON line, handed to the
operating system at once (a killed process loses at most the unit in flight) and flushed to disk (``fsync``) at
once or, for journals of many small units, at most once a second (a power cut loses at most that second). A torn
last line (the process died mid-write) is cut on opening, so that unit is simply done again. An exclusive lock keeps
two runs from writing one journal. Once the run's outputs are written the journal is removed (its two files, then
the folder if empty).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trackscope.errors import TrackscopeError

JOURNAL = "progress.jsonl"
LOCK = "lock"


class Journal:
    """An append-only journal of records (dicts with a ``"t"`` type key) in ``folder``.

    ``meta``: the settings the run depends on (its first record). ``command`` and ``run_noun`` name the run in
    messages ("another trackscope collect is writing…", "holds the progress of a different collection…");
    ``error``: the exception class those messages are raised as. ``records``: what an interrupted run left (with
    the meta record first), ``resumed`` whether there was any."""

    def __init__(
        self,
        folder: str | os.PathLike,
        meta: dict[str, Any],
        *,
        command: str,
        run_noun: str,
        error: type[TrackscopeError] = TrackscopeError,
        sync_every: float = 0.0,
    ) -> None:
        self.folder = Path(folder)
        self.path = self.folder / JOURNAL
        self.command, self.run_noun, self.error = command, run_noun, error
        self.sync_every = sync_every
        self.records: list[dict[str, Any]] = []
        self._fh: Any = None
        self._synced = 0.0
        self._lock = self._acquire()
        try:
            self._load(meta)
        except BaseException:
            self.close()
            raise

    def _acquire(self) -> Any:
        """An exclusive lock on the folder, so two runs never write one journal (released when the process ends)."""
        if self.folder.exists() and not self.folder.is_dir():
            raise self.error("a file is where this run keeps its journal (a folder): move it away", path=self.folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fh = open(self.folder / LOCK, "a+b")  # noqa: SIM115 — held open until close()
        except OSError as err:
            raise self.error(f"cannot keep this run's journal here ({err.strerror or err})", path=self.folder) from None
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return fh
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise self.error(
                f"another trackscope {self.command} is writing to this checkpoint; wait for it or stop it first",
                path=self.folder,
            ) from None
        return fh

    def close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Journal:
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
            if found.get("t") != "meta" or found.get("meta") != _plain_json(meta):
                raise self.error(
                    f"holds the progress of a different {self.run_noun} ({_describe(found.get('meta'))}); "
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

    def append(self, record: dict[str, Any], *, keep: bool = True) -> None:
        """Add one record: written through to the operating system at once (a killed process loses nothing) and
        fsync-ed — at once, or with ``sync_every`` seconds, at most that often (one result a millisecond from a large
        cluster cannot wait for a disk flush each: a power cut then loses at most that many seconds, done again by
        the rerun). ``keep=False``: not kept in :attr:`records` (large records of a long run that the caller holds
        anyway). numpy values are written as plain numbers and lists."""
        import time

        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_plain) + "\n"
        if self._fh is None:
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 — held open until close()
        self._fh.write(line)
        self._fh.flush()
        now = time.monotonic()
        if now - self._synced >= self.sync_every:
            os.fsync(self._fh.fileno())
            self._synced = now
        if keep:
            self.records.append(record)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("t") == kind]

    def remove(self) -> None:
        """The run's outputs are written: remove the journal (see :func:`remove`)."""
        self.close()
        remove(self.folder)


def remove(folder: str | os.PathLike) -> None:
    """Remove a journal's files and, if nothing else is in it, its folder (what is not ours stays)."""
    folder = Path(folder)
    for name in (JOURNAL, LOCK):
        (folder / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # missing, or something else in it: left as it is
        folder.rmdir()


def _plain(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    if hasattr(obj, "__fspath__"):
        return str(obj)
    raise TypeError(f"cannot write a {type(obj).__name__} to the journal")


def _plain_json(obj: Any) -> Any:
    """``obj`` as it reads back from the journal (tuples as lists, numpy values as numbers)."""
    return json.loads(json.dumps(obj, default=_plain))


def _describe(meta: Any) -> str:
    if not isinstance(meta, dict):
        return "unreadable settings"
    return ", ".join(f"{k}={v}" for k, v in meta.items())
