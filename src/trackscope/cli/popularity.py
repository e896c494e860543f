"""CLI: ``trackscope train popularity`` — hit-potential models from a Spotify table or from audio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from trackscope.cli._app import (
    console,
    emit_json,
    engine_option,
    handle_errors,
    progress_bar,
    ray_address_option,
    split_list,
    train_app,
)
from trackscope.cli.mood import OVERWRITE_HELP
from trackscope.errors import TrackscopeError


@train_app.command("popularity")
@handle_errors
def train_popularity(
    data: Path | None = typer.Option(None, "--data", help="Spotify-feature table (CSV/Parquet) with popularity."),
    audio: Path | None = typer.Option(None, "--audio", help="Folder of audio files (searched recursively)."),
    labels: Path | None = typer.Option(None, "--labels", help="CSV naming each audio file with its popularity."),
    id_column: str | None = typer.Option(
        None, "--id-column", help="Column of --labels naming the file (default: the column matching the most files)."
    ),
    target: str = typer.Option("popularity", "--target", help="Popularity column (track_popularity also works)."),
    models: str | None = typer.Option(
        None,
        "--models",
        help="Comma list. Tables: dummy,logreg,gbm,rf,mlp (default: all). Audio: dummy,mlp,cnn1,cnn2,crnn (default) "
        "and embedding (musicnn).",
    ),
    threshold: str = typer.Option(
        "auto", "--threshold", help="'auto' (deepest dip between the histogram's main modes, else the median) or N."
    ),
    group_column: str | None = typer.Option(
        None, "--group-column", help="Keep each value (e.g. artist) inside one split."
    ),
    features: str | None = typer.Option(
        None, "--features", help="Comma list of table audio features (default: the 10 study features)."
    ),
    no_metadata: bool = typer.Option(False, "--no-metadata", help="Leave release year/month and explicit out."),
    epochs: int | None = typer.Option(None, "--epochs", help="Training epochs of the audio networks (default 30)."),
    store: Path | None = typer.Option(
        None,
        "--store",
        help="A `trackscope extract` store to read mels from (files it lacks are added), or a folder for the "
        "work cache (default: OUT.work/store, beside the model folder).",
    ),
    engine: str = engine_option(),
    ray_address: str = ray_address_option(),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    out: Path = typer.Option(..., "--out", help="Model folder to write."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object (the metrics) on stdout."),
) -> None:
    """Train hit-potential models (popular = popularity ≥ a threshold from the training split), compare them on the
    test and holdout splits and save the best with metrics.json, report.html and a model card."""
    from trackscope import api

    if (data is None) == (audio is None):
        raise TrackscopeError("give --data TABLE or --audio DIR --labels CSV")
    options: dict[str, Any] = {}
    if audio is not None:
        if labels is None:
            raise TrackscopeError("--audio needs --labels CSV (a file/id column and a popularity column)")
        if features is not None or no_metadata:
            raise TrackscopeError("--features and --no-metadata apply to --data tables only")
        options.update(audio=audio, labels=labels, id_column=id_column, epochs=epochs, workers="auto", engine=engine)
        if engine == "ray":
            options["ray_address"] = ray_address
        if store is not None:
            options["store"] = store
    else:
        if labels is not None or store is not None or epochs is not None or engine != "local":
            raise TrackscopeError("--labels, --store, --epochs and --engine apply to --audio training only")
        options.update(data=data, features=split_list(features), metadata=not no_metadata)
    with progress_bar("Training", enabled=not as_json) as progress:
        metrics = api.train_popularity(
            target=target,
            models=split_list(models),
            threshold=threshold,
            group_column=group_column,
            seed=seed,
            out=out,
            overwrite=overwrite,
            progress=progress,
            **options,
        )
    if as_json:
        emit_json({**metrics, "out": str(out)})
        return
    _print_summary(metrics, out)


def _print_summary(metrics: dict[str, Any], out: Path) -> None:
    from rich.table import Table

    con = console()
    table = Table(
        title=f"Hit potential — popular = {metrics['data'].get('target', 'popularity')} ≥ "
        f"{metrics['threshold']:g} ({metrics['threshold_rule'].get('rule')})"
    )
    for col in ("model", "test acc", "test ROC-AUC", "holdout acc", "holdout ROC-AUC"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, r in metrics["models"].items():
        mark = " *" if name == metrics["chosen_model"] else ""
        cells = [r["test_accuracy"], r["test_roc_auc"], r["holdout_accuracy"], r["holdout_roc_auc"]]
        table.add_row(name + mark, *[("—" if v is None else f"{v:.3f}") for v in cells])
    con.print(table)
    con.print(f"* chosen on test ROC-AUC. Model, metrics.json, report.html and model_card.md in [bold]{out}[/bold]")
