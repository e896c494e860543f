"""CLI: ``trackscope export`` — every song of a workspace with its analysis, as one table."""

from __future__ import annotations

from pathlib import Path

import typer

from trackscope.cli._app import app, console, handle_errors

EXPORT_SUFFIXES = (".csv", ".json", ".parquet")


@app.command()
@handle_errors
def export(
    workspace: Path | None = typer.Option(
        None, "--workspace", help="The workspace folder (default: a trackscope folder in your user data directory)."
    ),
    out: Path = typer.Option(
        Path("songs.csv"), "--out", help="The table to write: .csv, .json (records) or .parquet, by its suffix."
    ),
) -> None:
    """Every song of the workspace (what `trackscope analyze --workspace` and `trackscope serve` put there) with its
    newest analysis: mood, class probabilities, arousal, valence, novelty, tempo, key, loudness, hit potential, top
    tags, status and error, one row per song. Written atomically."""
    from trackscope.errors import TrackscopeError
    from trackscope.workspace import default_workspace
    from trackscope.workspace.db import DB_NAME

    folder = workspace if workspace is not None else default_workspace()
    if not (folder / DB_NAME).is_file():
        raise TrackscopeError(
            "no workspace here (no trackscope.sqlite): fill one with trackscope analyze PATHS --workspace DIR "
            "or trackscope serve",
            path=folder,
        )
    suffix = out.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise TrackscopeError(f"--out must end in {', '.join(EXPORT_SUFFIXES)}", path=out)
    from trackscope.workspace import Workspace

    with Workspace(folder) as ws:
        if suffix == ".csv":
            ws.export_csv(out)
            n = ws.count_songs()
        else:
            import pandas as pd

            from trackscope._atomic import output_file, write_frame

            rows = ws.export_rows()
            n = len(rows)
            write_frame(pd.DataFrame(rows), output_file(out))
    console().print(f"{n} songs → {out}", soft_wrap=True, highlight=False)
