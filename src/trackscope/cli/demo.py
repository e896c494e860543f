"""CLI: ``trackscope demo`` — the main job on built-in defaults, offline, in well under a minute.

Until audio analysis lands, the demo trains a mood model on a small example table that trackscope generates itself
(:mod:`trackscope.sources.example`), and says so.
"""

from __future__ import annotations

from pathlib import Path

import typer

from trackscope.cli._app import app, console, emit_json, handle_errors, progress_bar

DEMO_ROWS = 300
DEMO_SEED = 0
DEMO_NOISE = 1.8  # overlapping enough that the models differ, separated enough to learn (test accuracy ~0.85)
DEMO_MODELS = ["logreg", "mlp", "svm", "rf", "gbm", "ensemble"]


@app.command()
@handle_errors
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", help="Folder for the example table, model and report."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as exactly one JSON object on stdout."),
) -> None:
    """Try trackscope with no data of your own: train a mood model on a made-up example table and write its report."""
    from trackscope import api
    from trackscope.sources.example import write_example_table

    err = console(stderr=True)
    err.print(
        f"[bold]Demo:[/bold] trackscope made up an example table of {DEMO_ROWS} tracks (synthetic Spotify features "
        f"with a planted per-mood structure, seed {DEMO_SEED}). It is not real music: the scores below show that the "
        "workflow runs, not how well moods can be predicted.",
        soft_wrap=True,
    )
    out.mkdir(parents=True, exist_ok=True)
    table = write_example_table(out / "example-moods.csv", DEMO_ROWS, seed=DEMO_SEED, noise=DEMO_NOISE)
    with progress_bar("Training mood models") as progress:
        metrics = api.train_mood(
            data=table,
            out=out / "mood-model",
            models=DEMO_MODELS,
            seed=42,
            progress=progress,
        )
    report = Path(metrics["out"]) / "report.html"
    if as_json:
        emit_json({**metrics, "example_table": str(table), "report": str(report)})
        return
    from trackscope.cli.mood import print_models

    print_models(metrics)
    con = console()
    con.print(f"Example table: {table}", soft_wrap=True)
    con.print(f"Model folder:  {metrics['out']}", soft_wrap=True)
    con.print(f"Report:        [bold]{report}[/bold]  (open it in a browser)", soft_wrap=True)
    con.print(
        f"Next: [bold]trackscope train mood --data YOUR_TABLE.csv --out my-model[/bold], then "
        f"[bold]trackscope predict {metrics['out']} --data {table}[/bold]"
    )
