"""CLI: ``trackscope demo`` — the main job on built-in defaults, offline.

By default the demo synthesises a few music-like clips (:mod:`trackscope.sources.example_audio`) and runs
``trackscope analyze`` on them with the built-in mood model. ``--table`` instead trains a mood model on a small
example Spotify-feature table that trackscope makes up (:mod:`trackscope.sources.example`). Both say so plainly.
"""

from __future__ import annotations

from pathlib import Path

import typer

from trackscope.cli._app import app, console, emit_json, handle_errors, progress_bar

DEMO_ROWS = 300
DEMO_SEED = 0
DEMO_NOISE = 1.8  # overlapping enough that the models differ, separated enough to learn (test accuracy ~0.85)
DEMO_MODELS = ["logreg", "mlp", "svm", "rf", "gbm", "ensemble"]
DEMO_CLIP_SECONDS = 12.0


@app.command()
@handle_errors
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", help="Folder for the example data and the results."),
    table: bool = typer.Option(False, "--table", help="Demo the Spotify-table workflow instead (train a mood model)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as exactly one JSON object on stdout."),
) -> None:
    """Try trackscope with no data of your own: analyse a few clips it synthesises (mood, arousal/valence, tempo,
    key, loudness, tags, mood over time) and write the report. `--table` demos the Spotify-table workflow."""
    if table:
        _table_demo(out, as_json)
    else:
        _audio_demo(out, as_json)


def _audio_demo(out: Path, as_json: bool) -> None:
    from trackscope.api import analyze
    from trackscope.sources.example_audio import write_examples

    err = console(stderr=True)
    err.print(
        "[bold]Demo:[/bold] trackscope synthesises 4 short clips (energetic, tense, dark and calm styles made of sine "
        "chords, drums and noise) and a 75-s song that changes style, then analyses them with its built-in mood model "
        "(builtin:mood, trained on 540 real 30-s clips of the 4Q emotion dataset). These clips are made up, not real "
        "music, so their moods only show that the pipeline runs; run it on your own folder for real answers."
    )
    paths = write_examples(out / "clips", seconds=DEMO_CLIP_SECONDS)
    with progress_bar("Analysing", enabled=not as_json) as progress:
        progress(0, len(paths))  # the clips are written: show the bar while the first one is analysed
        result = analyze(paths, out=out / "analysis", progress=progress)
    if as_json:
        emit_json(result)
        return
    from trackscope.cli.analyze import show

    show(result)
    console().print("Open the report in a browser. Next: trackscope analyze ~/Music/my-songs --out my-analysis")


def _table_demo(out: Path, as_json: bool) -> None:
    from trackscope import api
    from trackscope.sources.example import write_example_table

    err = console(stderr=True)
    err.print(
        f"Demo: trackscope made up an example table of {DEMO_ROWS} tracks (synthetic Spotify features "
        f"with a planted per-mood structure, seed {DEMO_SEED}). It is not real music: the scores below show that the "
        "workflow runs, not how well moods can be predicted."
    )
    out.mkdir(parents=True, exist_ok=True)
    table = write_example_table(out / "example-moods.csv", DEMO_ROWS, seed=DEMO_SEED, noise=DEMO_NOISE)
    with progress_bar("Training mood models", enabled=not as_json) as progress:
        metrics = api.train_mood(
            data=table, out=out / "mood-model", models=DEMO_MODELS, seed=42, progress=progress, overwrite=True
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
    con.print(f"Report:        {report}  (open it in a browser)", soft_wrap=True)
    con.print(
        f"Next: trackscope train mood --data YOUR_TABLE.csv --out my-model, then "
        f"trackscope predict {metrics['out']} --data {table}"
    )
