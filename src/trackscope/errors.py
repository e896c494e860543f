"""One exception type for everything a user can get wrong.

Library code raises :class:`TrackscopeError` (or a subclass) for bad input; the CLI turns it into a one-line
message on stderr and exit code 2. Anything else escaping to the CLI is a bug (exit code 1).
"""

from __future__ import annotations

from pathlib import Path


class TrackscopeError(Exception):
    """Bad input: a file, a column, a parameter. ``str(err)`` is one line naming the file and the reason."""

    def __init__(self, reason: str, *, path: str | Path | None = None) -> None:
        self.reason = " ".join(str(reason).split())  # always one line
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {self.reason}" if self.path else self.reason)


class AudioError(TrackscopeError):
    """A file that cannot be decoded into usable audio."""


class TableError(TrackscopeError):
    """A table that cannot be used as asked (missing columns, bad values, ...)."""


class ModelError(TrackscopeError):
    """A model folder that is missing, incompatible or tampered with."""


class CollectError(TrackscopeError):
    """A failure talking to Spotify that the user can act on."""
