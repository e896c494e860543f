"""CLI: evaluate, predict and explain a saved model (any task; dispatch happens in :mod:`trackscope.api`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from trackscope.cli._app import app, console, emit_json, handle_errors
from trackscope.errors import TrackscopeError

MODEL_HELP = "Model folder written by `trackscope train` (or builtin:NAME, e.g. builtin:mood)."


def _given(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


@app.command()
@handle_errors
def evaluate(
    model: str = typer.Argument(..., help=MODEL_HELP),
    data: Path | None = typer.Option(None, "--data", help="Labelled table (CSV or Parquet)."),
    audio: Path | None = typer.Option(None, "--audio", help="Folder of audio files (searched recursively)."),
    labels: Path | None = typer.Option(None, "--labels", help="CSV of labels for --audio."),
    id_column: str | None = typer.Option(None, "--id-column", help="Column of --labels naming the audio file."),
    label: str | None = typer.Option(None, "--label", help="Label column (default: the one the model was trained on)."),
    label_map: str | None = typer.Option(
        None, "--label-map", help='Rename labels before matching, e.g. "calm=Relaxing,sad=Dark".'
    ),
    target: str | None = typer.Option(None, "--target", help="Popularity column for popularity models."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
) -> None:
    """Score a saved model on another labelled table or audio folder: accuracy, macro-F1 (or ROC-AUC),
    per-class scores and the confusion matrix."""
    from trackscope import api

    if data is None and audio is None:
        raise TrackscopeError("give --data TABLE or --audio DIR --labels FILE")
    result = api.evaluate(
        model,
        **_given(
            data=data, audio=audio, labels=labels, id_column=id_column, label=label, label_map=label_map, target=target
        ),
    )
    if as_json:
        emit_json(result)
    else:
        print_metrics(result)
    from trackscope.cli._labels import excluded_hint

    hint = excluded_hint(result)
    if hint:  # on stderr: --json keeps exactly one JSON object on stdout
        from rich.markup import escape

        console(stderr=True).print(f"[yellow]Note:[/yellow] {escape(hint)}")


@app.command()
@handle_errors
def predict(
    model: str = typer.Argument(..., help=MODEL_HELP),
    songs: list[Path] | None = typer.Argument(None, help="Audio files or folders (for audio models)."),
    data: Path | None = typer.Option(None, "--data", help="Table of tracks (for table models)."),
    out: Path | None = typer.Option(None, "--out", help="Write predictions to this CSV (or .json / .parquet)."),
    as_json: bool = typer.Option(False, "--json", help="Print the predictions as one JSON object."),
) -> None:
    """Predict mood (with class probabilities) or hit potential for every row or song."""
    from trackscope import api

    if data is None and not songs:
        raise TrackscopeError("give --data TABLE or audio files/folders")
    if out is not None:
        from trackscope._atomic import output_file

        output_file(out)  # before any prediction: an --out that cannot be written fails now, not at the end
    opened: Any = model
    if songs and data is None and out is None:
        opened = api.load_model(model)  # opened and verified once, whichever way it predicts
        rows = _audio_mood_rows(opened, songs)
        if rows is not None:  # an audio mood model: answered and printed without pandas
            if as_json:
                columns = _row_columns(rows)
                records = [{c: r.get(c) for c in columns} for r in rows]
                emit_json({"n": len(rows), "skipped_missing": 0, "predictions": records, "out": None})
            else:
                print_frame(in_natural_order(rows), title="Predictions")
            return
    frame = api.predict(opened, **_given(data=data, songs=songs or None))
    if out is not None:
        write_frame(frame, out)
    skipped = int(frame.attrs.get("missing_dropped", 0) or 0)
    if skipped:
        console(stderr=True).print(f"{skipped} rows with a missing feature were skipped (see the row column)")
    if as_json:
        emit_json(
            {
                "n": len(frame),
                "skipped_missing": skipped,
                "predictions": frame.to_dict(orient="records"),
                "out": str(out) if out else None,
            }
        )
        return
    print_frame(in_natural_order(frame), title="Predictions")
    if out is not None:
        console(stderr=True).print(f"Predictions written to [bold]{out}[/bold]")


@app.command()
@handle_errors
def explain(
    model: str = typer.Argument(..., help=MODEL_HELP),
    song: Path | None = typer.Argument(None, help="An audio file (for audio models)."),
    data: Path | None = typer.Option(None, "--data", help="A table (for table models)."),
    row: int = typer.Option(0, "--row", help="Row of --data to explain."),
    out: Path | None = typer.Option(None, "--out", help="Folder for the explanation picture and JSON."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
) -> None:
    """Explain a prediction: which stretches of a song pull it toward each mood (audio mood models), an occlusion
    map over the mel spectrogram (audio popularity models) or feature contributions (table models)."""
    from trackscope import api

    if song is None and data is None:
        raise TrackscopeError("give an audio file or --data TABLE")
    if out is not None:
        from trackscope._atomic import check_output_folder

        check_output_folder(out)  # before any work
    result = api.explain(model, **_given(song=song, data=data, row=row if data is not None else None, out=out))
    if as_json:
        emit_json(result)
    elif "why" in result and "windows" in result:  # an audio mood model: stretches of the song over time
        print_why(result)
    else:
        con = console()
        for key, value in result.items():
            if not isinstance(value, list | dict):
                con.print(f"[bold]{key}[/bold]: {value}")
        for key, value in result.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                import pandas as pd

                print_frame(pd.DataFrame(value), title=key)


def _audio_mood_rows(model: Any, songs: list[Path]) -> list[dict[str, Any]] | None:
    """The rows ``trackscope predict`` shows for an audio mood model (``model``: a name or an opened
    :class:`trackscope.api.Model`), as :func:`trackscope.api.predict`'s frame but as dictionaries; None for any
    other model."""
    from trackscope import api

    opened = api.load_model(model)
    if opened.task != "mood" or opened.input != "audio":
        return None
    from trackscope.tasks.mood.audio import predict_rows

    with api._model_errors(opened._md):  # a damaged model.json: a ModelError, as api.predict says it
        return predict_rows(opened._md, songs=songs)


def _row_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Column names of a list of row dictionaries in order of first appearance (as ``pandas.DataFrame(rows)``)."""
    return list(dict.fromkeys(k for r in rows for k in r))


def print_why(result: dict[str, Any]) -> None:
    """An audio mood explanation for people: the song's mood, a sentence on the stretch that drives it, then one
    row per stretch — its time, its effect on each mood (+ pulls toward it), the mood it pulls toward most — and the
    mood of each 30-s window."""
    from rich.table import Table

    from trackscope.tasks.mood.why import decimals, mood_words, signed, span

    con = console()
    if result.get("song"):
        con.print(f"[bold]{Path(str(result['song'])).name}[/bold]")
    mood = result.get("mood")
    if mood is None:
        con.print("[bold]Mood[/bold]: silent")
    else:
        con.print(f"[bold]Mood[/bold]: {mood_words(mood)} ({mood}, {result.get('confidence', 0.0):.0%})")
    con.print(result.get("summary", ""))
    why = result.get("why") or []
    if why:
        classes = list(why[0]["effects"])
        # one choice of decimals per table, so the points line up
        places = decimals(max(abs(e) for st in why for e in st["effects"].values()))
        legend = " · ".join(f"{c} {mood_words(c)}" for c in classes if mood_words(c) != c)
        table = Table(title="Each stretch's pull on the mood (+: toward it)", caption=legend or None)
        table.add_column("stretch", justify="left")
        for c in classes:
            table.add_column(c, justify="right")
        table.add_column("pulls toward", justify="left")
        for st in why:
            cells = []
            for c in classes:
                text = signed(st["effects"][c], places)
                cells.append(f"[green]{text}[/green]" if c == st["toward"] else text)
            table.add_row(span(st), *cells, mood_words(st["toward"]) if st["toward"] else "–")
        con.print(table)
    windows = result.get("windows") or []
    if len(windows) > 1:
        print_frame(windows, title="Mood of each 30-s window")
    if why:
        con.print(f"[dim]{result.get('method', '')}[/dim]")


def in_natural_order(frame: Any) -> Any:
    """Songs (a ``path`` column) by file name in natural order — track2 before track10 — for the table only; rows of
    a table keep their order. ``frame``: a pandas DataFrame or a list of row dictionaries."""
    rows = frame if isinstance(frame, list) else None
    if rows is not None:
        if not rows or "path" not in _row_columns(rows):
            return rows
        paths = [str(r.get("path")) for r in rows]
    else:
        if "path" not in frame.columns or frame.empty:
            return frame
        paths = [str(p) for p in frame["path"].tolist()]
    from trackscope._format import natural_key

    order = sorted(range(len(paths)), key=lambda i: (natural_key(Path(paths[i]).name), natural_key(paths[i])))
    return [rows[i] for i in order] if rows is not None else frame.iloc[order]


def write_frame(frame: Any, out: Path) -> None:
    """Write a DataFrame as CSV, JSON or Parquet (by suffix), atomically."""
    from trackscope._atomic import write_frame as _write

    _write(frame, out)


# Columns kept when a table is wider than the terminal; the others go first (class probabilities before the rest).
ESSENTIAL_COLUMNS = ("row", "id", "path", "song", "name", "mood", "mood_words", "confidence", "unusual",
                     "hit_probability", "probability", "popular", "class", "error")  # fmt: skip


def print_frame(
    frame: Any, *, title: str | None = None, max_rows: int = 50, more_hint: str = "use --out to get them all"
) -> None:
    """A pandas DataFrame — or a list of row dictionaries, printed the same without pandas — as a Rich table:
    numbers rounded for reading (durations as m:ss, keys spelt as musicians do, see
    :func:`trackscope._format.format_column`), missing values as "–", file paths as names, and — when the table is
    wider than the terminal — the least essential columns left out (said below the table)."""
    from rich.table import Table

    from trackscope._format import format_column

    con = console()
    n_total = len(frame)
    values, numeric = _table_values(frame, max_rows)
    for col in ("path", "song"):  # file names: the full paths are in --out / --json
        if col in values:
            values[col] = [Path(v).name if isinstance(v, str) and v else v for v in values[col]]

    modes = values.get("mode")  # Spotify's mode beside a numeric key
    cells = {c: format_column(c, v, modes) for c, v in values.items()}
    cells = {c: v for c, v in cells.items() if any(x != "–" for x in v) or not v}  # all-missing columns say nothing
    width = {c: min(max([len(c), *map(len, v)]), 32) + 3 for c, v in cells.items()}
    shown = list(cells)
    droppable = [c for c in shown if c.startswith("p_")] + [
        c for c in reversed(shown) if c not in ESSENTIAL_COLUMNS and not c.startswith("p_")
    ]
    hidden = []
    while sum(width[c] for c in shown) > con.width and droppable:
        c = droppable.pop(0)
        shown.remove(c)
        hidden.append(c)
    table = Table(title=title)
    for c in shown:
        table.add_column(c, justify="right" if numeric[c] else "left", overflow="fold")
    for i in range(min(n_total, max_rows)):
        table.add_row(*[cells[c][i] for c in shown])
    con.print(table)
    if hidden:
        con.print(f"(not shown for width: {', '.join(hidden)} — all columns with --out or --json)")
    if n_total > max_rows:
        con.print(f"… {n_total - max_rows} more rows ({more_hint})")


def _table_values(frame: Any, max_rows: int) -> tuple[dict[str, list[Any]], dict[str, bool]]:
    """The first ``max_rows`` values of each column (by name) and whether the column is numeric (right-aligned):
    a DataFrame's integer or float dtype; for row dictionaries, every value present a number (not a bool), as
    pandas would type the column (a key a row lacks is missing)."""
    if isinstance(frame, list):
        from numbers import Real

        head = frame[:max_rows]
        values = {str(c): [r.get(c) for r in head] for c in _row_columns(frame)}
        numeric = {}
        for c, v in values.items():
            present = [x for x in v if x is not None]
            numeric[c] = bool(present) and all(isinstance(x, Real) and not isinstance(x, bool) for x in present)
        return values, numeric
    head = frame.head(max_rows)
    values = {str(c): head[c].tolist() for c in head.columns}
    numeric = {str(c): isinstance(c, str) and head[c].dtype.kind in "fiu" for c in head.columns}
    return values, numeric


def print_metrics(result: dict[str, Any]) -> None:
    """Headline metrics, per-class scores and the confusion matrix of an evaluation."""
    import pandas as pd
    from rich.table import Table

    con = console()
    head = Table(title="Evaluation", show_header=False)
    for key in ("accuracy", "macro_f1", "roc_auc", "n", "excluded"):
        if key in result and not isinstance(result[key], dict | list):
            v = result[key]
            head.add_row(key, f"{v:.3f}" if isinstance(v, float) else str(v))
    con.print(head)
    per_class = result.get("per_class")
    if isinstance(per_class, dict) and per_class:
        frame = pd.DataFrame(per_class).T
        if "support" in frame.columns:
            frame["support"] = frame["support"].astype(int)
        print_frame(frame.reset_index(names="class"), title="Per class")
    absent = result.get("absent_classes")
    if absent:
        con.print(f"Not in the data (no per-class scores): {', '.join(map(str, absent))}")
    confusion = result.get("confusion")
    if isinstance(confusion, dict) and "matrix" in confusion:
        labels = confusion.get("labels", [])
        print_frame(
            pd.DataFrame(confusion["matrix"], index=labels, columns=labels).reset_index(names="true \\ pred"),
            title="Confusion matrix (rows: true)",
        )
    wrong = result.get("misclassified")
    if isinstance(wrong, list):
        if not wrong:
            con.print("Misclassified: none")
        else:
            frame = pd.DataFrame(wrong, columns=["id", "true", "predicted", "confidence"])
            if all(isinstance(v, str) and ("/" in v or "\\" in v) for v in frame["id"]):
                frame["id"] = [Path(v).name for v in frame["id"]]  # files by name; full paths are in --json
            order = "most confident first" if frame["confidence"].notna().any() else "in input order"
            print_frame(
                frame,
                title=f"Misclassified ({len(wrong)} of {result.get('n')}, {order})",
                max_rows=30,
                more_hint="all of them with --json",
            )
