"""Command-line interface: a thin layer over :mod:`trackscope.api`.

Each sub-module registers its commands on the shared app in :mod:`trackscope.cli._app`.
"""

from __future__ import annotations

from trackscope.cli import (  # noqa: F401 — importing registers the commands
    analyze,
    collect,
    demo,
    extract,
    models,
    mood,
    popularity,
)
from trackscope.cli._app import app


def main() -> None:
    app()
