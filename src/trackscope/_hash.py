"""Content keys: the SHA-256 of a file's bytes, and a short hash of a configuration.

The one place trackscope hashes things: caches and the feature store key entries by ``file_sha256`` + ``config_hash``,
model folders list the ``file_sha256`` of every file they hold, tables and label files record theirs in metrics.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def config_hash(config: dict[str, Any], length: int = 16) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``config`` as canonical JSON (sorted keys; values JSON
    cannot hold are written as their text): the same configuration gives the same key in any key order."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
