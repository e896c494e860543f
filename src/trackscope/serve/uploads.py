"""Uploads streamed to disk: a multipart body parsed as it arrives (python-multipart's push parser over
``request.stream()``), each file written chunk by chunk (off the event loop) to its own temporary file in the
workspace's ``tmp/`` folder — never a whole file in memory — and capped in size: a file over the cap stops being
written (its temporary file is removed) while the rest of the body is read on, so the other files of the request
are unaffected.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIELD = "files"  # the multipart field that carries the files
MAX_FILES = 1000  # file parts per request
MAX_FIELD_BYTES = 64 * 1024  # a non-file part (ignored) may hold at most this much
MAX_NAME = 255  # characters of a file name kept


class UploadError(Exception):
    """The request itself is unusable (not multipart, malformed, too many parts): a 4xx with this message."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Received:
    """One uploaded file: its name as the client gave it (data, never a path), and where its bytes are — or, when
    it was over the cap, no path and ``over_limit``."""

    name: str
    path: Path | None
    size: int = 0
    over_limit: bool = False
    _fd: int | None = field(default=None, repr=False)


def clean_name(raw: str) -> str:
    """The file's own name: the last part of what the client sent (some send ``C:\\fakepath\\x.mp3``), with the
    HTML form encoding's ``%22`` as ``"``, control characters out (the name is shown on one line), at most
    :data:`MAX_NAME` characters (its suffix kept); ``unnamed`` if nothing is left. It is only ever shown and used
    for its suffix, never as a path."""
    # browsers send " as %22 and line breaks as %0D %0A (the HTML standard's form encoding): undo those three
    raw = raw.replace("%22", '"').replace("%0D", " ").replace("%0A", " ")
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if len(name) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[: MAX_NAME - len(suffix) - 1] + dot + suffix) if dot and len(suffix) <= 16 else name[:MAX_NAME]
    return name or "unnamed"


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if suffix[1:].isalnum() and len(suffix) <= 16 else ""


class _Parts:
    """The parser's callbacks: collect each part's headers, route file data to pending writes."""

    def __init__(self, make_path: Callable[[str], Path], max_bytes: int) -> None:
        self.make_path = make_path
        self.max_bytes = max_bytes
        self.files: list[Received] = []
        self.pending: list[tuple[Received, bytes]] = []  # written after each network chunk, off the event loop
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._current: Received | None = None
        self._field_bytes = 0
        self._in_part = False

    # python-multipart callbacks (synchronous, cheap: no I/O here)
    def on_part_begin(self) -> None:
        self._disposition = b""
        self._current = None
        self._field_bytes = 0
        self._in_part = True

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        if len(self._header_value) > 16 * 1024:
            raise UploadError("a multipart header is too long")

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._disposition)
        field_name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options or field_name not in (FIELD, "file"):
            return  # a plain field, or a file in another field: read past it
        if len(self.files) >= MAX_FILES:
            raise UploadError(f"too many files in one request (at most {MAX_FILES})", 413)
        name = clean_name(options[b"filename"].decode("utf-8", "replace"))
        path = Path(self.make_path(_suffix(name)))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        self._current = Received(name=name, path=path, _fd=fd)
        self.files.append(self._current)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current
        if part is None:
            self._field_bytes += end - start
            if self._field_bytes > MAX_FIELD_BYTES:
                raise UploadError(f"a form field is over {MAX_FIELD_BYTES // 1024} KB")
            return
        part.size += end - start
        if part.over_limit:
            return
        if part.size > self.max_bytes:
            part.over_limit = True  # the file is dropped when the pending writes run
        self.pending.append((part, bytes(data[start:end])))

    def on_part_end(self) -> None:
        self._in_part = False
        if self._current is not None:
            self.pending.append((self._current, b""))  # closes its file
        self._current = None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    # file I/O (run in a worker thread)
    def flush(self) -> None:
        pending, self.pending = self.pending, []
        for part, data in pending:
            if part._fd is None:
                continue
            if part.over_limit:
                _discard(part)
            elif data:
                view = memoryview(data)
                while view:
                    view = view[os.write(part._fd, view) :]
            else:
                os.close(part._fd)
                part._fd = None

    def abandon(self) -> None:
        """Close and remove every temporary file (the request failed or the client went away)."""
        for part in self.files:
            _discard(part)


def _discard(part: Received) -> None:
    if part._fd is not None:
        os.close(part._fd)
        part._fd = None
    if part.path is not None:
        part.path.unlink(missing_ok=True)
        part.path = None


async def receive_files(request: Any, make_path: Callable[[str], Path], *, max_bytes: int) -> list[Received]:
    """Read ``request``'s multipart body into temporary files named by ``make_path(suffix)`` (the workspace's
    ``temp_path``: its tmp/ folder, names it sweeps after a crash); the files in field ``files`` (or ``file``), in
    the order sent. A file over ``max_bytes`` comes back with ``over_limit`` and no path. The
    caller owns the returned temporary files (moves them into the workspace or removes them). Raises
    :class:`UploadError` for a request that is not usable multipart."""
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header
    from starlette.concurrency import run_in_threadpool

    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        raise UploadError(f"send the files as multipart/form-data in the field '{FIELD}'", 415)
    boundary = params.get(b"boundary")
    if not boundary:
        raise UploadError("the multipart body has no boundary")
    parts = _Parts(make_path, max_bytes)
    parser = MultipartParser(boundary, parts.callbacks())
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            parser.write(chunk)
            if parts.pending:
                await run_in_threadpool(parts.flush)
        parser.finalize()
        await run_in_threadpool(parts.flush)
        if parts._in_part:
            raise UploadError("the multipart body ends in the middle of a part")
    except FormParserError as err:
        parts.abandon()
        raise UploadError("malformed multipart body") from err
    except BaseException:
        parts.abandon()
        raise
    return parts.files
