"""CLI: ``trackscope serve`` — the studio in the browser over a workspace."""

from __future__ import annotations

from pathlib import Path

import typer

from trackscope.cli._app import app, handle_errors


def _default_workers() -> int:
    """One worker process per core but one (the server keeps a core for the page), at least 1, at most 4."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(4, cores - 1))


@app.command()
@handle_errors
def serve(
    workspace: Path | None = typer.Option(
        None, "--workspace", help="The workspace folder (default: a trackscope folder in your user data directory)."
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on. Any address but loopback requires a token."
    ),
    port: int = typer.Option(8765, "--port", help="Port to listen on (0: any free port)."),
    mood_model: str = typer.Option("builtin:mood", "--mood-model", help="Audio mood model folder or builtin:mood."),
    popularity_model: Path | None = typer.Option(
        None, "--popularity-model", help="An audio popularity model folder (adds hit potential)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Songs analysed side by side, one process each (default: cores - 1, 1 to 4)."
    ),
    max_upload_mb: int = typer.Option(200, "--max-upload-mb", help="Largest file accepted, in MB."),
    token: str | None = typer.Option(
        None,
        "--token",
        help="Require this token (Authorization: Bearer, ?token= or the page's cookie). Generated when --host is "
        "not loopback and none is given.",
    ),
) -> None:
    """Open the studio: drop songs on a page in your browser, see their mood, the valence-arousal map and each
    song's mood over time. Analysis runs here, in background processes; the songs live in the workspace."""
    from trackscope.serve.server import serve as run
    from trackscope.workspace import default_workspace

    folder = workspace if workspace is not None else default_workspace()

    def ready(url: str) -> None:
        typer.echo(f"trackscope studio: {url}", err=False)
        typer.echo(f"workspace: {folder} · Ctrl-C stops", err=True)

    run(
        folder,
        host=host,
        port=port,
        mood_model=mood_model,
        popularity_model=popularity_model,
        workers=_default_workers() if workers is None else workers,
        max_upload_mb=max_upload_mb,
        token=token,
        on_ready=ready,
    )
