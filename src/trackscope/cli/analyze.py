"""CLI: ``trackscope analyze`` — the main job."""

from __future__ import annotations

from pathlib import Path

import typer

from trackscope.cli._app import app, console, emit_json, handle_errors, progress_bar


@app.command()
@handle_errors
def analyze(
    paths: list[Path] = typer.Argument(..., help="Audio files and/or folders (searched recursively)."),
    out: Path | None = typer.Option(
        Path("trackscope-analysis"), "--out", help="Folder for analysis.csv, analysis.json and report.html."
    ),
    mood_model: str = typer.Option("builtin:mood", "--mood-model", help="Audio mood model folder or builtin:mood."),
    popularity_model: Path | None = typer.Option(
        None, "--popularity-model", help="A popularity model folder (adds hit potential)."
    ),
    no_report: bool = typer.Option(False, "--no-report", help="Skip report.html (faster)."),
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="Songs analysed side by side, one process each (default: one per core up to 4, for batches of 3+ "
        "songs per worker; 1 with a GPU).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
) -> None:
    """Mood (with arousal and valence), tempo, key, loudness, duration and top tags of every song; 30-s windows for
    long songs (mood over time); hit potential with --popularity-model. Bad files are listed, the rest analysed."""
    from trackscope.api import analyze as run
    from trackscope.api import check_analyze_output
    from trackscope.models.persist import load_model_dir

    if out is not None:  # fail fast on outputs that cannot be written, not after the whole batch
        check_analyze_output(out, report=not no_report)
    model = load_model_dir(mood_model)  # fail fast on a bad model, before any progress output
    with progress_bar("Analysing", enabled=not as_json) as progress:
        result = run(
            paths,
            out=out,
            mood_model=model,
            popularity_model=popularity_model,
            progress=progress,
            report=not no_report,
            workers="auto" if workers is None else workers,
        )
    if as_json:
        emit_json(result)
        return
    show(result)


def show(result: dict) -> None:
    from rich.table import Table

    con = console()
    wide = con.width >= 120  # narrow terminals (and pipes, 80 columns) get the essential columns only
    from rich import box

    table = Table(title=f"Analysis of {result['n']} songs", box=box.SIMPLE_HEAD, pad_edge=False)
    has_hit = any("hit_potential" in s for s in result["songs"])
    table.add_column("song", no_wrap=True, max_width=28 if wide else 16, overflow="ellipsis")
    table.add_column("mood", no_wrap=True, min_width=15)
    numeric = [*(["conf"] if wide else []), "arousal", "valence", *(["hit"] if has_hit else []), "BPM"]
    for col in numeric:
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    table.add_column("key", no_wrap=True, min_width=7)
    table.add_column("LUFS", justify="right", no_wrap=True, min_width=5)
    table.add_column("length", justify="right", no_wrap=True, min_width=6)
    if wide:
        table.add_column("top tags", min_width=18, overflow="fold")

    def f(v: object, fmt: str) -> str:
        return fmt.format(v) if isinstance(v, int | float) else "–"

    for s in result["songs"]:
        minutes, seconds = divmod(int(round(s["duration"])), 60)
        mood = s["mood_words"] if s["mood_words"] != s["mood"] else s["mood"]
        if wide and s["mood"] is not None and mood != s["mood"]:
            mood = f"{mood} ({s['mood']})"
        if s.get("unusual"):  # unlike the model's training music: the mood is a guess
            mood = f"? {mood}"
        table.add_row(
            s["name"],
            mood,
            *([f(s.get("confidence"), "{:.2f}")] if wide else []),
            f(s.get("arousal"), "{:+.2f}"),
            f(s.get("valence"), "{:+.2f}"),
            *([f(s.get("hit_potential"), "{:.2f}")] if has_hit else []),
            f(s.get("tempo"), "{:.0f}"),
            str(s.get("key") or "–"),
            f(s.get("loudness_lufs"), "{:.1f}"),
            f"{minutes}:{seconds:02d}",
            *([", ".join(t["tag"] for t in s["top_tags"][:2])] if wide else []),
        )
    con.print(table)
    unusual = sum(1 for s in result["songs"] if s.get("unusual"))
    if unusual:
        con.print(
            f"? {unusual} song(s) sound unlike the music the mood model learnt from (novelty > 0.99): "
            "treat their mood as a guess."
        )
    for fail in result["failures"]:
        con.print(f"[red]failed[/red] {fail['path']}: {fail['reason']}")
    outputs = result.get("outputs", {})
    if outputs:
        con.print(f"Results: {outputs['csv']}, {outputs['json']}", soft_wrap=True)
        if "report" in outputs:
            con.print(f"Report:  {outputs['report']}", soft_wrap=True)
