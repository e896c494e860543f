"""CLI: ``trackscope train mood`` — a mood model from a Spotify-feature table (or, with --audio, from audio)."""

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

OVERWRITE_HELP = (
    "Replace the model in an existing --out model folder: only the files its model.json lists are replaced, "
    "any other file in the folder is kept. Without it, an existing non-empty --out is refused."
)
MODELS_HELP = "Model families to grid-search, comma-separated: logreg, mlp, svm, rf, gbm, ensemble (default: all)."


@train_app.command("mood")
@handle_errors
def train_mood(
    data: Path | None = typer.Option(None, "--data", help="Table of tracks with Spotify features (CSV or Parquet)."),
    out: Path = typer.Option(..., "--out", help="Output folder for the model, metrics.json, model_card.md, report."),
    label: str | None = typer.Option(None, "--label", help="Label column (default: mood; quadrant for --audio)."),
    features: str | None = typer.Option(
        None, "--features", help="Feature columns, comma-separated (default: the study's 10 Spotify features)."
    ),
    test_size: float = typer.Option(0.33, "--test-size", help="Share of rows held out for the test (the study: 0.33)."),
    seed: int = typer.Option(42, "--seed", help="Seed of the split, the folds and the models (the study: 42)."),
    models: str | None = typer.Option(None, "--models", help=MODELS_HELP),
    scaler: str | None = typer.Option(
        None, "--scaler", help="Feature scaling: power (Yeo-Johnson, the default) or standard (the study's)."
    ),
    audio: Path | None = typer.Option(None, "--audio", help="Train from audio: folder of clips (needs --labels)."),
    labels: Path | None = typer.Option(None, "--labels", help="CSV of labels for --audio."),
    id_column: str | None = typer.Option(None, "--id-column", help="Column of --labels naming the clip (song_id)."),
    group_column: str | None = typer.Option(
        None, "--group-column", help="Keep rows sharing this column's value (e.g. artist) on one side of every split."
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="With --audio: clips analysed side by side, one process each (default: one per core)."
    ),
    engine: str = engine_option(),
    ray_address: str = ray_address_option(),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as exactly one JSON object on stdout."),
) -> None:
    """Train a mood classifier: stratified split, grid-searched models chosen by cross-validation, and a folder with
    the model, its metrics, a model card and a self-contained HTML report.

    Example: trackscope train mood --data moods.csv --out mood-model
    """
    from trackscope import api
    from trackscope.errors import TrackscopeError

    if data is None and audio is None:
        raise TrackscopeError("give --data TABLE (Spotify features) or --audio DIR --labels FILE")
    if audio is not None and labels is None:
        raise TrackscopeError("--audio needs --labels FILE (a CSV naming each clip's mood)")
    if audio is None and engine != "local":
        raise TrackscopeError("--engine applies to --audio training only (a table trains in this process)")
    options: dict[str, Any] = {
        "data": data,
        "out": out,
        "label": label,
        "features": split_list(features),
        "test_size": test_size,
        "seed": seed,
        "models": split_list(models),
        "scaler": scaler,
        "audio": audio,
        "labels": labels,
        "id_column": id_column,
        "group_column": group_column,
        "workers": ("auto" if workers is None else workers) if audio is not None else None,
        "engine": engine if audio is not None else None,
        "ray_address": ray_address if audio is not None and engine == "ray" else None,
        "overwrite": overwrite or None,
    }
    options = {k: v for k, v in options.items() if v is not None}
    with progress_bar("Training mood models") as progress:
        metrics = api.train_mood(progress=progress, **options)
    if as_json:
        emit_json(metrics)
        return
    print_models(metrics)
    folder = metrics.get("out", str(out))
    con = console()
    test = metrics.get("test", {})
    if isinstance(test.get("accuracy"), float):
        family = metrics.get("chosen_family")
        con.print(
            f"Chosen: [bold]{metrics.get('chosen_model')}[/bold]{f', {family}' if family else ''} — "
            f"{test.get('protocol', 'test')} accuracy {test['accuracy']:.3f}, macro-F1 "
            f"{test.get('macro_f1') or 0:.3f} on {test.get('n')} tracks"
        )
    con.print(f"Model folder: [bold]{folder}[/bold]", soft_wrap=True)
    if (Path(folder) / "report.html").is_file():
        con.print(f"Report: [bold]{Path(folder) / 'report.html'}[/bold]", soft_wrap=True)


def print_models(metrics: dict[str, Any]) -> None:
    """The model comparison as a Rich table: CV mean ± sd, train, test, macro-F1, overfitting flag."""
    from rich.table import Table

    models = metrics.get("models")
    if not isinstance(models, dict) or not models:
        cv = metrics.get("cv")
        if isinstance(cv, dict):
            models = {
                k: {"cv_mean": v.get("mean"), "cv_std": v.get("std")} for k, v in cv.items() if isinstance(v, dict)
            }
        else:
            return
    table = Table(title="Mood models (chosen by CV, never by test)")
    for col in ("model", "CV mean ± sd", "train", "test", "test macro-F1", "overfit?"):
        table.add_column(col, justify="left" if col in ("model", "overfit?") else "right", no_wrap=True)

    def num(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, int | float) else "–"

    for name, r in models.items():
        chosen = name == metrics.get("chosen_model")
        flag = f"[red]yes[/red] (gap {r['gap']:.2f})" if r.get("overfit") else "no"
        if "overfit" not in r:
            flag = "–"
        cv = f"{num(r.get('cv_mean'))} ± {num(r.get('cv_std'))}"
        table.add_row(
            f"[bold]{name} *[/bold]" if chosen else name,
            cv,
            num(r.get("train_accuracy", r.get("train_macro_f1"))),
            num(r.get("test_accuracy")),
            num(r.get("test_macro_f1")),
            flag,
        )
    con = console()
    con.print(table)
    name = metrics.get("chosen_model")
    chosen = models.get(name, {})
    params = ", ".join(f"{k}={v}" for k, v in (chosen.get("params") or {}).items())
    con.print(f"* chosen: {name}" + (f" ({params})" if params else ""))
    choice = metrics.get("choice")
    if not isinstance(choice, dict) and all("overfit" in r for r in models.values()) and name in models:
        from trackscope.evaluation import describe_choice

        scoring = (metrics.get("cv_protocol") or {}).get("scoring")
        choice = describe_choice(models, name, score="macro-F1" if scoring == "macro_f1" else "accuracy")
    if isinstance(choice, dict):
        con.print(f"  rule: {choice['rule']}", soft_wrap=True)
        if choice.get("note"):
            con.print(f"  [yellow]overfitting:[/yellow] {choice['note']}", soft_wrap=True)
