"""Capture what C libraries print on file descriptor 2 for the length of one call.

libsndfile's MP3 decoder (libmpg123) prints notes such as ``Note: Illegal Audio-MPEG-Header 0x… at offset …`` straight
to fd 2, below Python's ``sys.stderr``: they would tear progress bars and leak into ``--json`` runs' stderr. Wrap the
decoding call (and only it) in :func:`capture_stderr`; what was printed comes back as ``captured.text``, to be folded
into an error message or dropped.

fd 2 belongs to the whole process, so the redirection is shared and counted: the first caller points fd 2 at a
temporary file, nested or concurrent callers (other threads) reuse it, and the last one to leave restores the original
fd 2. Each caller gets the bytes written while it was inside (in a concurrent stretch that may include another
thread's writes). Two threads can therefore never "restore" each other's redirection and leave stderr pointing at a
file, which a plain save/``dup2``/restore per caller does when the calls overlap.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

__all__ = ["Captured", "capture_stderr", "last_line"]

_lock = threading.Lock()
_depth = 0
_saved_fd: int | None = None  # the real fd 2, while redirected
_sink: IO[bytes] | None = None  # the temporary file fd 2 points at, while redirected


@dataclass
class Captured:
    """What was written to fd 2 inside :func:`capture_stderr` (set when the block ends)."""

    text: str = ""


def _flush_python_stderr() -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):
        pass


@contextmanager
def capture_stderr() -> Iterator[Captured]:
    """Send fd 2 to a temporary file inside the block; ``captured.text`` holds what was written there.

    Thread-safe and re-entrant (see the module docstring). When fd 2 cannot be redirected (closed, no temporary
    folder), the block runs unchanged and ``text`` stays empty.
    """
    global _depth, _saved_fd, _sink
    captured = Captured()
    with _lock:
        if _depth == 0:
            _flush_python_stderr()  # what Python printed before belongs to the real stderr
            try:
                sink = tempfile.TemporaryFile()  # noqa: SIM115 — closed when the last caller leaves
                try:
                    saved = os.dup(2)
                except OSError:
                    sink.close()
                    raise
                os.dup2(sink.fileno(), 2)
                _sink, _saved_fd = sink, saved
            except OSError:
                _sink = _saved_fd = None
        _depth += 1
        sink = _sink
        start = os.fstat(sink.fileno()).st_size if sink is not None else 0
    try:
        yield captured
    finally:
        with _lock:
            if sink is not None:
                _flush_python_stderr()
                end = os.fstat(sink.fileno()).st_size
                if end > start:
                    captured.text = os.pread(sink.fileno(), end - start, start).decode("utf-8", "replace")
            _depth -= 1
            if _depth == 0 and _sink is not None and _saved_fd is not None:
                os.dup2(_saved_fd, 2)
                os.close(_saved_fd)
                _sink.close()
                _sink = _saved_fd = None


def last_line(text: str, limit: int = 160) -> str:
    """The last non-empty line of captured chatter, without a ``[file.c:func():line]`` prefix, at most ``limit``
    characters (empty when there is none)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[-1]
    if line.startswith("[") and "] " in line:
        line = line.split("] ", 1)[1]
    return line if len(line) <= limit else line[: limit - 1] + "…"
