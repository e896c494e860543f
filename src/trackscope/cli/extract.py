"""CLI: ``trackscope extract`` — mel spectrograms and descriptors of audio files into a resumable feature store."""

from __future__ import annotations

from pathlib import Path

import typer

from trackscope.cli._app import (
    app,
    console,
    emit_json,
    engine_option,
    handle_errors,
    progress_bar,
    ray_address_option,
    split_list,
)
from trackscope.constants import EXIT_BAD_INPUT, SAMPLE_RATE


@app.command()
@handle_errors
def extract(
    paths: list[Path] = typer.Argument(
        ..., help="Audio files or folders (searched recursively), or s3://bucket/prefix/."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Feature store folder (created; reruns resume)."),
    what: str = typer.Option("mel,descriptors", "--what", help="What to compute: mel, descriptors or both."),
    workers: int | None = typer.Option(
        None, "--workers", "-j", min=1, help="Processes, one thread each (default: one per core, up to 4)."
    ),
    sr: int = typer.Option(SAMPLE_RATE, "--sr", help="Sample rate to analyse at (Hz)."),
    mel_window: float = typer.Option(
        30.0, "--mel-window", min=0.0, help="Seconds of mel from the centre of each song (0 = whole song)."
    ),
    engine: str = engine_option(),
    ray_address: str = ray_address_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object on stdout."),
) -> None:
    """Compute each file's features once into a store: descriptors (tempo, key, loudness, spectral statistics,
    MFCC, … as descriptors.parquet/.csv) and log-mel spectrograms (float16 .npy, centre 30 s).

    Files are cached by content hash + configuration: a rerun (also after a crash or Ctrl-C) skips finished work;
    a changed --sr or --mel-window recomputes. Bad files are listed in STORE/failures.csv and never stop the batch.
    Exit code 0 when at least one file was usable (or nothing failed), 2 when every file failed."""
    from trackscope import api

    kinds = split_list(what) or []
    if engine != "local":
        from trackscope._ray import check_engine

        check_engine(
            engine, ray_address
        )  # before the bar: "needs Ray: pip install ...", an unreachable cluster (exit 2)
    with progress_bar("Extracting", enabled=not as_json) as update:
        summary = api.extract(
            paths,
            out,
            what=kinds,
            workers=workers or "auto",
            sr=sr,
            mel_window=mel_window,
            progress=update,
            engine=engine,
            ray_address=ray_address,
        )
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)
    usable = summary["done"] + summary["cached"]
    if summary["failed"] and not usable:
        raise typer.Exit(EXIT_BAD_INPUT)


def _print_summary(summary: dict) -> None:
    err = console(stderr=True)
    err.print(
        f"[bold]{summary['done']}[/bold] done, [bold]{summary['cached']}[/bold] cached, "
        f"[bold]{summary['failed']}[/bold] failed in {summary['seconds']:.1f} s → [bold]{summary['store']}[/bold]"
    )
    for f in summary["failures"][:10]:
        err.print(f"  [red]failed[/red] {f['path']}: {f['reason']}", soft_wrap=True)
    if summary["failed"] > 10:
        err.print(f"  … {summary['failed'] - 10} more in {Path(summary['store']) / 'failures.csv'}")
