"""Where trackscope keeps caches: ``$TRACKSCOPE_CACHE`` or the platform's user cache folder."""

from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE = "TRACKSCOPE_CACHE"


def cache_dir() -> Path:
    """trackscope's cache folder: ``$TRACKSCOPE_CACHE`` or the platform's user cache dir (e.g. ~/.cache/trackscope)."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("trackscope"))
