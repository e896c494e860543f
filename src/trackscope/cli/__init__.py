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
    serve,
    workspace,
)
from trackscope.cli._app import app


def main() -> None:
    import os

    # With OpenMP's default busy-waiting, two-thread torch work collapses 5-7x when another process holds a core
    # (measured on 2-core machines); passive waiting costs nothing when the cores are free. Must be set before torch.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from trackscope._threads import keep_freed_memory

    keep_freed_memory()  # big short-lived tensors from the heap, not fresh pages each time (see trackscope._threads)
    try:
        app()
    finally:
        # The interpreter's last garbage collection walks every object torch and numpy made: 1.0-1.6 s of a one-song
        # predict spent on exit (measured). Nothing is left to collect that matters, so those objects are frozen.
        import gc

        gc.freeze()
