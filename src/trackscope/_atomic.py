"""Atomic file writes: write to a temporary file beside the target, then rename it into place.

A crash, Ctrl-C or ``kill -9`` at any moment leaves either the old file or the new one, never half of one (the rename
is atomic on POSIX file systems). Finished files get the usual permissions (0666 minus the umask), not the 0600 that
temporary files are created with.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Temporary files start with this, so a store can sweep what an interrupted run left behind.
TMP_PREFIX = ".tmp-"
_MODE: int | None = None


def default_mode(directory: bool = False) -> int:
    """0666 (files) or 0777 (folders) minus the process umask."""
    global _MODE
    if _MODE is None:
        mask = os.umask(0)
        os.umask(mask)
        _MODE = mask
    return (0o777 if directory else 0o666) & ~_MODE


def _check_ancestors(path: Path, what: str, *, writable: bool = False) -> None:
    """The nearest existing path above ``path`` must be a folder (``writable``: one we may create things in)."""
    from trackscope.errors import TrackscopeError

    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise TrackscopeError(f"{what} cannot be created: {parent} is an existing file", path=path)
            if writable and not os.access(parent, os.W_OK | os.X_OK):
                raise TrackscopeError(f"{what} cannot be created: no permission to write in {parent}", path=path)
            return


def output_folder(path: str | os.PathLike, *, create: bool = True) -> Path:
    """Check (and create) a folder that results go into: an existing *file* of that name, or a file where one of
    the folders above it should be, is bad input."""
    from trackscope.errors import TrackscopeError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise TrackscopeError("output folder is an existing file; choose another out (--out)", path=path)
    if not path.exists():
        _check_ancestors(path, "output folder")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def output_file(path: str | os.PathLike) -> Path:
    """Check a file that results go into: an existing *folder* of that name is bad input."""
    from trackscope.errors import TrackscopeError

    path = Path(path)
    if path.is_dir():
        raise TrackscopeError("output file is an existing folder; name a file, e.g. preds.csv", path=path)
    if path.parent.exists() and not path.parent.is_dir():
        raise TrackscopeError("the folder of this output file is an existing file", path=path)
    if not path.parent.exists():
        _check_ancestors(path.parent, "the folder of this output file")
    return path


def check_output_folder(path: str | os.PathLike, files: tuple[str, ...] | list[str] = ()) -> Path:
    """Fail fast, before any work, on an output folder that cannot take the results: ``path`` must be a folder or
    creatable as one, and none of ``files`` (names inside it) may be an existing folder. Creates nothing."""
    from trackscope.errors import TrackscopeError

    path = output_folder(path, create=False)
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise TrackscopeError("no permission to write in the output folder", path=path)
    else:
        _check_ancestors(path, "output folder", writable=True)
    for name in files:
        output_file(path / name)
    return path


@contextmanager
def atomic_path(path: str | os.PathLike, *, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); on success it replaces ``path``, on error it is removed."""
    path = output_file(path)
    output_folder(path.parent)
    fd, name = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, default_mode())
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> Path:
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_frame(frame: Any, path: str | os.PathLike) -> Path:
    """A pandas DataFrame as Parquet, JSON (records) or CSV, chosen by the suffix."""
    path = Path(path)
    with atomic_path(path) as tmp:
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        elif suffix == ".json":
            frame.to_json(tmp, orient="records", indent=2)
        else:
            frame.to_csv(tmp, index=False)
    return path
