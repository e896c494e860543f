"""CLI: collect track tables from the Spotify Web API (``trackscope collect playlists|sample``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from trackscope.cli._app import collect_app, console, emit_json, handle_errors, progress_bar

PREVIEWS_HELP = "Download the available 30-s previews into this folder as <id>.mp3."


@collect_app.command("playlists")
@handle_errors
def playlists(
    playlist: list[str] | None = typer.Argument(
        None, help="Playlist ids, spotify:playlist: URIs or open.spotify.com URLs."
    ),
    label: str | None = typer.Option(None, "--label", help="Label (mood) of the playlists given as arguments."),
    from_csv: Path | None = typer.Option(None, "--from-csv", help="CSV of playlist,label rows (one label each)."),
    out: Path = typer.Option(Path("spotify_playlists.csv"), "--out", help="Output table (.csv or .parquet)."),
    label_column: str = typer.Option("mood", "--label-column", help="Name of the label column in the output."),
    previews: Path | None = typer.Option(None, "--previews", help=PREVIEWS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
) -> None:
    """Every track of labelled playlists, with audio features where Spotify still gives them.

    The mood study's data: one label per playlist. A track found under two different labels is dropped and reported.

    Needs SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET (see docs/spotify.md).

    Progress is kept in OUT.partial/: after a crash or Ctrl-C, rerun the same command to resume.
    """
    from trackscope.sources.spotify import collect_playlists

    with _resume_hint(out), progress_bar("Playlist tracks", enabled=not as_json) as update:
        summary = collect_playlists(
            playlist or [],
            label=label,
            from_csv=from_csv,
            out=out,
            label_column=label_column,
            previews=previews,
            progress=update,
        )
    _report(summary, as_json)


@collect_app.command("sample")
@handle_errors
def sample(
    genre: str = typer.Option("hip-hop", "--genre", help="Spotify genre filter."),
    years: str = typer.Option("2019-2021", "--years", help="Release years, YYYY or YYYY-YYYY."),
    n: int = typer.Option(..., "--n", help="How many distinct tracks to draw."),
    out: Path = typer.Option(Path("spotify_sample.csv"), "--out", help="Output table (.csv or .parquet)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random queries and offsets."),
    previews: Path | None = typer.Option(None, "--previews", help=PREVIEWS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
) -> None:
    """Random tracks of a genre and release years, drawn through search (the popularity study's data).

    Random short queries at random offsets, deduplicated, until N tracks or the search space is exhausted.

    Needs SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET (see docs/spotify.md).

    Progress is kept in OUT.partial/: after a crash or Ctrl-C, rerun the same command to resume.
    """
    from trackscope.sources.spotify import collect_sample

    with _resume_hint(out), progress_bar("Sampled tracks", enabled=not as_json) as update:
        summary = collect_sample(genre=genre, years=years, n=n, out=out, seed=seed, previews=previews, progress=update)
    _report(summary, as_json)


class _resume_hint:
    """On Ctrl-C, say that a rerun resumes (the checkpoint is kept); the error wrapper then exits 130."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, err: Any, tb: Any) -> bool:
        if kind is KeyboardInterrupt:
            console(stderr=True).print(
                f"Progress kept in [bold]{self.out}.partial/[/bold]: rerun the same command to resume."
            )
        return False


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(summary)
        return
    from rich.table import Table

    err = console(stderr=True)
    table = Table(title="Spotify collection", show_header=False)
    rows: list[tuple[str, Any]] = [("Tracks", summary["tracks"])]
    if summary["kind"] == "playlists":
        rows += [("Playlists", summary["playlists"]), ("Failed playlists", len(summary["failed_playlists"]))]
        rows += [("Label conflicts dropped", summary["conflicts_dropped"])]
        rows += [("Per label", ", ".join(f"{k} {v}" for k, v in summary["labels"].items()))]
    else:
        rows += [("Requested", summary["requested"]), ("Search pages", summary["pages"])]
    rows += [
        ("Duplicates dropped", summary["duplicates_dropped"]),
        ("Audio features", f"{summary['features']} ({summary['features_rows']} tracks)"),
        ("Preview URLs", f"{summary['previews_available']} of {summary['tracks']}"),
        ("Previews downloaded", summary["previews_downloaded"]),
        ("Resumed", "yes" if summary["resumed"] else "no"),
        ("Output", summary["out"]),
    ]
    for key, value in rows:
        table.add_row(key, str(value))
    console().print(table)
    for failed in summary.get("failed_playlists", []):
        err.print(f"[yellow]playlist {failed['playlist']}[/yellow]: {failed['reason']}")
    for c in summary.get("conflicts", [])[:20]:
        labels = "; ".join(f"{lab} in {', '.join(p)}" for lab, p in c["labels"].items())
        err.print(f"[yellow]dropped[/yellow] {c['id']} ({c['name']}): two labels — {labels}")
    if len(summary.get("conflicts", [])) > 20:
        err.print(f"… {len(summary['conflicts']) - 20} more conflicts (use --json to see them all)")
    for failed in summary.get("previews_failed", [])[:5]:
        err.print(f"[yellow]preview {failed['id']}[/yellow]: {failed['reason']}")
    if summary.get("exhausted_message"):
        err.print(f"[yellow]{summary['exhausted_message']}[/yellow]")
    if summary.get("notice"):
        err.print(f"[bold yellow]Note:[/bold yellow] {summary['notice']}")
