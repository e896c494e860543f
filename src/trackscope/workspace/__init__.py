"""The workspace: a folder with a SQLite database of songs and their analyses, and the audio stored by content hash;
shared by `trackscope analyze --workspace`, `trackscope export` and `trackscope serve`."""

from __future__ import annotations

from pathlib import Path

from trackscope.workspace.db import Workspace

__all__ = ["Workspace", "default_workspace"]


def default_workspace() -> Path:
    """The workspace used when none is named: ``workspace`` in the user's trackscope data folder (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_path("trackscope")) / "workspace"
