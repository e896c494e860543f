"""CLI: ``trackscope analyze`` — the main job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from trackscope.cli._app import (
    app,
    console,
    emit_json,
    engine_option,
    handle_errors,
    progress_bar,
    ray_address_option,
)


@app.command()
@handle_errors
def analyze(
    paths: list[Path] = typer.Argument(
        ..., help="Audio files and/or folders (searched recursively), or s3://bucket/prefix/."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Folder for analysis.csv, analysis.json and report.html (default: trackscope-analysis; with "
        "--workspace only when given).",
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
    engine: str = engine_option(),
    ray_address: str = ray_address_option(),
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        help="Also add the songs to this workspace folder and record their analyses there (for trackscope serve "
        "and trackscope export).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
) -> None:
    """Mood (with arousal and valence), tempo, key, loudness, duration and top tags of every song; 30-s windows for
    long songs (mood over time); hit potential with --popularity-model. Bad files are listed, the rest analysed.
    An interrupted run (Ctrl-C, a crash) resumes: the same command again analyses only the songs it had not
    finished. With --workspace the songs and their analyses go into the workspace's database too."""
    from trackscope.api import analyze as run
    from trackscope.api import check_analyze_output
    from trackscope.models.persist import load_model_dir

    if out is None and workspace is None:
        out = Path("trackscope-analysis")
    if workspace is not None:
        from trackscope.workspace import Workspace

        Workspace(workspace).close()  # fail fast on a folder that cannot be a workspace (creates/migrates it)
    if out is not None:  # fail fast on outputs that cannot be written, not after the whole batch
        check_analyze_output(out, report=not no_report)
    if engine != "local":
        from trackscope._ray import check_engine

        check_engine(
            engine, ray_address
        )  # before any work: "needs Ray: pip install ...", an unreachable cluster (exit 2)
    from trackscope._ray import is_s3

    # the inputs checked before the bar shows (s3:// inputs are listed by the job)
    n_files = 0 if any(is_s3(p) for p in paths) else count_inputs(paths)
    model = load_model_dir(mood_model)  # fail fast on a bad model, before any progress output
    with progress_bar("Analysing", enabled=not as_json) as progress:
        progress(0, n_files)
        result = run(
            paths,
            out=out,
            mood_model=model,
            popularity_model=popularity_model,
            progress=progress,
            report=not no_report,
            workers="auto" if workers is None else workers,
            engine=engine,
            ray_address=ray_address,
            workspace=workspace,
        )
    if as_json:
        emit_json(result)
        return
    show(result)


def count_inputs(paths: list[Path]) -> int:
    """The number of audio files the paths name, checked before any work: when none names an audio file, one line
    says why by input (``no such file or folder: PATH``; ``no audio files in: FOLDER``). A bad input beside good
    ones is listed with the results, as the analysis lists it."""
    from trackscope.errors import TrackscopeError
    from trackscope.sources.audio_dirs import walk_audio

    files, problems = walk_audio(paths)
    if files:
        return len(files)
    by_reason: dict[str, list[str]] = {}
    for path, reason in problems:
        by_reason.setdefault(reason, []).append(path)
    named = {path for path, _ in problems}
    empty = [str(p) for p in paths if str(p) not in named]
    if empty:
        by_reason["no audio files in"] = empty
    raise TrackscopeError("; ".join(f"{reason}: {', '.join(found)}" for reason, found in by_reason.items()))


def show(result: dict) -> None:
    """The analysis as a table on stdout, songs in natural order (track2 before track10), then notes and files."""
    from rich.markup import escape

    from trackscope._format import natural_key

    con = console()
    songs = sorted(result["songs"], key=lambda s: (natural_key(s.get("name") or ""), natural_key(s.get("path") or "")))
    table, hidden = analysis_table(songs, con, title=f"Analysis of {result['n']} songs")
    con.print(table)
    if hidden:
        con.print(
            f"(not shown at {con.width} columns: {', '.join(hidden)} — a wider terminal shows them; every value is in "
            "analysis.csv and --json)"
        )
    unusual = sum(1 for s in result["songs"] if s.get("unusual"))
    if unusual:
        con.print(
            f"? {unusual} song(s) sound unlike the music the mood model learnt from (novelty > 0.99): "
            "treat their mood as a guess."
        )
    for fail in result["failures"]:
        con.print(f"[red]failed[/red] {escape(str(fail['path']))}: {escape(str(fail['reason']))}")
    outputs = result.get("outputs", {})
    if outputs:
        con.print(f"Results: {outputs['csv']}, {outputs['json']}", soft_wrap=True)
        if "report" in outputs:
            con.print(f"Report:  {outputs['report']}", soft_wrap=True)
    ws = result.get("workspace")
    if ws:
        failed = f", {ws['failed']} failed" if ws["failed"] else ""
        con.print(
            f"Workspace: {escape(ws['path'])} — {ws['songs']} songs ({ws['new']} new), {ws['analysed']} analysed"
            f"{failed}; see them with trackscope serve --workspace {escape(ws['path'])}",
            soft_wrap=True,
            highlight=False,
        )


# Columns left out, in this order, until the table fits the terminal (song and mood always stay, mood words whole).
DROP_ORDER: tuple[tuple[str, ...], ...] = (
    ("top tags",),
    (),  # not a column: the class code after the mood words, "(Q2)"
    ("conf",),
    ("LUFS",),
    ("arousal", "valence"),
    ("length",),
    ("BPM",),
    ("key",),
    ("hit",),
)
SONG_KEEP = 20  # song names keep this many characters before any column is left out (then down to SONG_MIN)
SONG_MIN = 10
SONG_MAX = 32


def analysis_table(songs: list[dict], con: Any, *, title: str | None = None) -> tuple[Any, list[str]]:
    """The analysis as a Rich table that fits ``con.width``: the song names shortened first (to ``SONG_KEEP``), then
    whole columns left out in :data:`DROP_ORDER`, never a mood word cut (at the very narrowest the mood wraps at its
    ``/``). Returns the table and the names of the columns left out."""
    import math

    from rich import box
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    from trackscope._format import format_duration, spell_key

    def num(v: object, fmt: str) -> str:
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        return fmt.format(v) if ok else "–"

    moods, codes = [], []
    for s in songs:
        words = s.get("mood_words") or s.get("mood") or "–"
        mark = "? " if s.get("unusual") else ""  # unlike the model's training music: the mood is a guess
        moods.append(mark + words)
        code = s.get("mood")
        codes.append(f"{mark}{words} ({code})" if code and code != words else mark + words)
    has_hit = any("hit_potential" in s for s in songs)
    columns: dict[str, tuple[str, list[str]]] = {  # name -> (justify, cells), in display order
        "song": ("left", [str(s.get("name") or s.get("path") or "–") for s in songs]),
        "mood": ("left", codes),
        "conf": ("right", [num(s.get("confidence"), "{:.2f}") for s in songs]),
        "arousal": ("right", [num(s.get("arousal"), "{:+.2f}") for s in songs]),
        "valence": ("right", [num(s.get("valence"), "{:+.2f}") for s in songs]),
        **({"hit": ("right", [num(s.get("hit_potential"), "{:.2f}") for s in songs])} if has_hit else {}),
        "BPM": ("right", [num(s.get("tempo"), "{:.0f}") for s in songs]),
        "key": ("left", [spell_key(s.get("key")) for s in songs]),
        "LUFS": ("right", [num(s.get("loudness_lufs"), "{:.1f}") for s in songs]),
        "length": ("right", [format_duration(s.get("duration")) for s in songs]),
        "top tags": ("left", [", ".join(t["tag"] for t in (s.get("top_tags") or [])[:2]) or "–" for s in songs]),
    }

    def build(shown: list[str], song_width: int, mood_cells: list[str]) -> Any:
        table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
        for name in shown:
            justify = columns[name][0]
            if name == "song":
                table.add_column(name, no_wrap=True, max_width=song_width, overflow="ellipsis")
            else:
                table.add_column(name, justify=justify, no_wrap=True, min_width=len(name))
        for i in range(len(songs)):
            table.add_row(*[Text(mood_cells[i] if n == "mood" else columns[n][1][i]) for n in shown])  # no markup
        return table

    def natural(name: str, cells: list[str]) -> int:
        return max([cell_len(name), *(cell_len(line) for c in cells for line in c.split("\n"))])

    def fits(shown: list[str], song_width: int, mood_cells: list[str]) -> int:
        """The columns to spare (negative: too wide)."""
        widths = [natural(n, mood_cells if n == "mood" else columns[n][1]) for n in shown]
        widths = [min(w, song_width) if n == "song" else w for n, w in zip(shown, widths, strict=True)]
        # SIMPLE_HEAD: a blank edge each side and between columns; one space of padding inside, none at the edges
        return con.width - (sum(widths) + 3 * len(widths) - 1)

    shown = list(columns)
    dropped: list[tuple[str, ...]] = []
    song_width = SONG_MAX
    mood_cells = codes
    steps: list[tuple[str, ...] | int] = [SONG_KEEP, *DROP_ORDER, SONG_MIN]
    for step in steps:
        if fits(shown, song_width, mood_cells) >= 0:
            break
        if isinstance(step, int):
            song_width = min(song_width, step)
        elif not step:
            mood_cells = moods  # "aggressive/tense" without its class code "(Q2)"
        elif any(n in shown for n in step):
            shown = [n for n in shown if n not in step]
            dropped.append(step)
    for step in reversed(dropped):  # a narrower column left out early may fit beside the room a wide one freed
        again = [n for n in columns if n in shown or n in step]
        if fits(again, song_width, mood_cells) >= 0:
            shown = again
            dropped.remove(step)
    hidden = [n for step in dropped for n in step if n in columns]
    spare = fits(shown, song_width, mood_cells)
    if spare < 0:  # narrower still: the mood wraps between its words, never inside one
        mood_cells = [m.replace("/", "/\n") for m in mood_cells]
        spare = fits(shown, song_width, mood_cells)
    song_width = max(SONG_MIN, min(SONG_MAX, song_width + spare))  # what the left-out columns freed, to the names
    return build(shown, song_width, mood_cells), hidden
