"""Collect track tables from the Spotify Web API, the way the two studies built their data.

* :func:`collect_playlists` — the mood study: every track of mood playlists, one label per playlist.
* :func:`collect_sample` — the popularity study: random tracks of a genre and release years, drawn through search
  with random short query strings and random offsets.

Both add Spotify's audio features (batches of 100) where the app still has access, can download the 30-s previews,
checkpoint their progress in ``OUT.partial/`` (a rerun resumes without refetching), and write a table with the
column names trackscope's table reader expects. Credentials and base URLs come from the environment
(see :mod:`trackscope.sources.spotify_client`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trackscope.errors import CollectError
from trackscope.sources.spotify_checkpoint import Checkpoint
from trackscope.sources.spotify_client import SpotifyClient, SpotifyHTTPError
from trackscope.sources.spotify_features import (
    NOVEMBER_2024,
    audio_features,
    download_previews,
    november_2024_notice,
)
from trackscope.sources.spotify_tracks import (
    FEATURE_COLUMNS,
    METADATA_COLUMNS,
    check_out,
    playlist_id,
    playlist_labels,
    track_row,
    write_table,
)

Progress = Callable[[int, int], None] | None

PLAYLIST_PAGE = 50  # spotipy 2.26's default and the 2026 API maximum for playlist items
SEARCH_PAGE = 10  # the 2026 API maximum for search in development mode (was 50)
SEARCH_MAX_OFFSET = 1000  # Spotify serves search results only up to offset 1000
SEARCH_PATIENCE = 25  # consecutive pages without a new track before the search space counts as exhausted

__all__ = ["NOVEMBER_2024", "november_2024_notice", "collect_playlists", "collect_sample", "playlist_id"]


def collect_playlists(
    playlists: list[str],
    *,
    label: str | None,
    from_csv: Path | None = None,
    out: Path,
    label_column: str = "mood",
    previews: Path | None = None,
    progress: Progress = None,
    checkpoint_dir: Path | None = None,
    client: SpotifyClient | None = None,
) -> dict[str, Any]:
    """Collect every track of labelled playlists into a table (the mood study's data).

    Parameters
    ----------
    playlists
        Playlist ids, ``spotify:playlist:…`` URIs or open.spotify.com URLs; all get ``label``.
    label
        The label of ``playlists``.
    from_csv
        A CSV of ``playlist,label`` rows (more playlists, each with its own label).
    out
        Output table, ``.csv`` or ``.parquet``.
    label_column
        Name of the label column in the output.
    previews
        Folder for ``<id>.mp3`` preview downloads (None: no downloads).
    progress
        ``(done, total)`` callback, counted in playlist tracks.
    checkpoint_dir
        Where to keep progress (default ``OUT.partial/`` beside ``out``); kept on failure, removed on success.
    client
        A ready client (default: :meth:`SpotifyClient.from_env`).

    Returns
    -------
    dict
        Summary: tracks written, duplicates dropped, label conflicts (dropped), failed playlists, features and
        previews status, the November 2024 notice when it applies.

    Examples
    --------
    >>> collect_playlists(["37i9dQZF1DX3rxVfibe1L0"], label="Happy", out=Path("happy.csv"))  # doctest: +SKIP
    """
    out = check_out(out)
    labels = playlist_labels(playlists, label, from_csv, label_column)
    client = client or SpotifyClient.from_env()
    with Checkpoint(_where(out, checkpoint_dir), {"kind": "playlists", "version": 1}) as ck:
        return _collect_playlists(client, ck, labels, out, label_column, previews, progress)


def _collect_playlists(
    client: SpotifyClient,
    ck: Checkpoint,
    labels: dict[str, str],
    out: Path,
    label_column: str,
    previews: Path | None,
    progress: Progress,
) -> dict[str, Any]:
    pages: dict[str, list[dict[str, Any]]] = {}
    for rec in ck.of_type("page"):
        pages.setdefault(rec["playlist"], []).append(rec)
    failed: dict[str, str] = {r["playlist"]: r["reason"] for r in ck.of_type("playlist_failed")}

    totals = {pid: (recs[-1].get("total") or 0) for pid, recs in pages.items()}
    done_count = sum(len(r["tracks"]) + r.get("skipped", 0) for recs in pages.values() for r in recs)

    def report() -> None:
        if progress:
            progress(done_count, max(sum(totals.values()), done_count))

    report()
    for pid in labels:
        if pid in failed:
            continue
        recs = pages.setdefault(pid, [])
        if recs and recs[-1].get("next") is None:
            continue  # this playlist was finished by an earlier run
        next_url = recs[-1]["next"] if recs else None
        while True:
            try:
                if next_url is None:
                    page = client.call(
                        f"playlist {pid}",
                        lambda p=pid: client.sp.playlist_items(p, limit=PLAYLIST_PAGE, additional_types=("track",)),
                    )
                else:
                    page = client.call(f"playlist {pid}", lambda u=next_url: client.sp.next({"next": u}))
            except SpotifyHTTPError as err:
                if err.status not in (400, 403, 404):
                    raise
                reason = str(err)
                if err.status in (403, 404):
                    reason += (
                        " — not found or not accessible to this app (Spotify-owned editorial and algorithmic "
                        "playlists answer 404 to apps created after 2024-11-27)"
                    )
                ck.append({"t": "playlist_failed", "playlist": pid, "reason": reason})
                failed[pid] = reason
                break
            if not isinstance(page, dict):
                raise CollectError(f"the answer for playlist {pid} was not JSON; is {client.api_url} the Web API?")
            rows, skipped = [], 0
            for entry in page.get("items") or []:
                row = track_row((entry or {}).get("track") or (entry or {}).get("item"))
                if row is None:
                    skipped += 1
                else:
                    rows.append(row)
            # An empty page that still points further would loop forever: treat it as the end.
            next_url = page.get("next") if page.get("items") else None
            record = {"t": "page", "playlist": pid, "total": page.get("total"), "next": next_url, "tracks": rows}
            ck.append({**record, "skipped": skipped})
            recs.append(record)
            totals[pid] = page.get("total") or 0
            done_count += len(rows) + skipped
            report()
            if not next_url:
                break

    # Dedupe across playlists: one row per track; a track under two different labels is dropped and reported.
    by_id: dict[str, dict[str, Any]] = {}
    seen_labels: dict[str, dict[str, list[str]]] = {}
    for pid in labels:
        for rec in pages.get(pid, []):
            for row in rec["tracks"]:
                by_id.setdefault(row["id"], row)
                seen_labels.setdefault(row["id"], {}).setdefault(labels[pid], []).append(pid)
    conflicts = [
        {"id": tid, "name": by_id[tid]["name"], "labels": {lab: sorted(set(p)) for lab, p in found.items()}}
        for tid, found in seen_labels.items()
        if len(found) > 1
    ]
    conflict_ids = {c["id"] for c in conflicts}
    rows = [
        {**row, label_column: next(iter(seen_labels[tid]))} for tid, row in by_id.items() if tid not in conflict_ids
    ]
    summary = {
        "kind": "playlists",
        "playlists": len(labels),
        "failed_playlists": [{"playlist": p, "reason": r} for p, r in failed.items()],
        # Extra appearances of kept tracks; a conflicting track is counted under conflicts only.
        "duplicates_dropped": sum(
            sum(map(len, found.values())) - 1 for tid, found in seen_labels.items() if tid not in conflict_ids
        ),
        "conflicts": conflicts,
        "conflicts_dropped": len(conflicts),
        "labels": {lab: sum(1 for r in rows if r[label_column] == lab) for lab in sorted(set(labels.values()))},
    }
    return _finish(client, ck, rows, out, previews, summary, label_column=label_column)


def _where(out: Path, checkpoint_dir: Path | None) -> Path:
    # Checkpoint(out) keeps its journal in "<out>.partial/"; a custom folder gets the same layout inside it.
    return out if checkpoint_dir is None else Path(checkpoint_dir) / out.name


def _parse_years(years: str) -> str:
    text = str(years).strip()
    m = re.fullmatch(r"(\d{4})(?:\s*-\s*(\d{4}))?", text)
    if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
        raise CollectError(f"--years must be YYYY or YYYY-YYYY (got {years!r})")
    return f"{m.group(1)}-{m.group(2)}" if m.group(2) else m.group(1)


def collect_sample(
    *,
    genre: str = "hip-hop",
    years: str = "2019-2021",
    n: int,
    out: Path,
    seed: int = 0,
    previews: Path | None = None,
    progress: Progress = None,
    checkpoint_dir: Path | None = None,
    client: SpotifyClient | None = None,
    page_size: int = SEARCH_PAGE,
    patience: int = SEARCH_PATIENCE,
) -> dict[str, Any]:
    """Draw ``n`` distinct random tracks of a genre and release years through search (the popularity study's data).

    Each page is a search for a random short wildcard string (``%a%`` or ``a%``) with ``genre:"…" year:…`` filters
    at a random offset, as the popularity study did. Sampling stops at ``n`` distinct tracks, or when ``patience``
    pages in a row brought nothing new (the search space is exhausted; the summary says so). The draws depend only
    on ``seed`` and the page number, so a resumed run continues the same sequence.

    Returns
    -------
    dict
        Summary with ``tracks``, ``duplicates_dropped``, ``exhausted``, ``pages`` and the feature/preview status.
    """
    out = check_out(out)
    if n < 1:
        raise CollectError(f"--n must be at least 1 (got {n})")
    genre = genre.strip()
    span = _parse_years(years)
    client = client or SpotifyClient.from_env()
    meta = {"kind": "sample", "genre": genre, "years": span, "seed": seed, "page_size": page_size, "version": 1}
    with Checkpoint(_where(out, checkpoint_dir), meta) as ck:
        return _collect_sample(client, ck, out, n, genre, span, seed, previews, progress, page_size, patience)


def _collect_sample(
    client: SpotifyClient,
    ck: Checkpoint,
    out: Path,
    n: int,
    genre: str,
    span: str,
    seed: int,
    previews: Path | None,
    progress: Progress,
    page_size: int,
    patience: int,
) -> dict[str, Any]:
    by_id: dict[str, dict[str, Any]] = {}
    totals: dict[str, int] = {}  # per query string: how many results Spotify says it has
    state = {"dupes": 0, "stale": 0, "page": 0}

    def absorb(rec: dict[str, Any]) -> None:
        new = 0
        for row in rec["tracks"]:
            if row["id"] in by_id:
                state["dupes"] += 1
            elif len(by_id) < n:
                by_id[row["id"]] = row
                new += 1
        learning = rec["q"] not in totals and rec["offset"] >= (rec["total"] or 0) > 0
        totals[rec["q"]] = rec["total"] or 0
        # A page past the end of a query we had not sized yet teaches its size: it does not count as stale.
        state["stale"] = 0 if new else state["stale"] + (0 if learning else 1)
        state["page"] = rec["i"] + 1

    for rec in ck.of_type("search"):
        absorb(rec)
    if progress:
        progress(len(by_id), n)
    query_filter = f'genre:"{genre}" year:{span}'
    while len(by_id) < n and state["stale"] < patience:
        rng = random.Random(f"{seed}:{state['page']}")
        letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
        text = rng.choice([f"%{letter}%", f"{letter}%"])
        known = totals.get(text)
        top = SEARCH_MAX_OFFSET if known is None else min(known, SEARCH_MAX_OFFSET)
        offset = rng.randrange(0, max(1, top - page_size + 1))
        query = f"{text} {query_filter}"
        result = client.call(
            f"search {query!r} at offset {offset}",
            lambda q=query, o=offset: client.sp.search(q, limit=page_size, offset=o, type="track"),
        )
        if not isinstance(result, dict):
            raise CollectError(f"the answer for search {query!r} was not JSON; is {client.api_url} the Web API?")
        tracks = result.get("tracks") or {}
        rows = [r for r in (track_row(t) for t in tracks.get("items") or []) if r is not None]
        rec = {"t": "search", "i": state["page"], "q": text, "offset": offset, "total": tracks.get("total") or 0}
        rec["tracks"] = rows
        ck.append(rec)
        absorb(rec)
        if progress:
            progress(len(by_id), n)
    exhausted = len(by_id) < n
    summary: dict[str, Any] = {
        "kind": "sample",
        "genre": genre,
        "years": span,
        "seed": seed,
        "requested": n,
        "pages": state["page"],
        "duplicates_dropped": state["dupes"],
        "exhausted": exhausted,
    }
    if exhausted:
        summary["exhausted_message"] = (
            f"search space exhausted: {patience} pages in a row brought no new track; got {len(by_id)} of {n}"
        )
    return _finish(client, ck, list(by_id.values()), out, previews, summary, label_column=None)


def _finish(
    client: SpotifyClient,
    ck: Checkpoint,
    rows: list[dict[str, Any]],
    out: Path,
    previews: Path | None,
    summary: dict[str, Any],
    *,
    label_column: str | None,
) -> dict[str, Any]:
    """Audio features, previews, the table; then drop the checkpoint and complete the summary."""
    features, features_status = audio_features(client, ck, [r["id"] for r in rows])
    downloaded, preview_failed = download_previews(client, rows, previews) if previews is not None else (0, [])
    with_preview = sum(1 for r in rows if r.get("preview_url"))
    columns = list(METADATA_COLUMNS) + list(FEATURE_COLUMNS) + ([label_column] if label_column else [])
    table = [{c: {**row, **features.get(row["id"], {})}.get(c) for c in columns} for row in rows]
    write_table(table, columns, out)
    ck.remove()
    notice = november_2024_notice(
        features_denied=features_status == "denied", previews_missing=bool(rows) and not with_preview
    )
    summary.update(
        {
            "out": str(out),
            "tracks": len(rows),
            "features": features_status,
            "features_rows": sum(1 for r in rows if r["id"] in features),
            "previews_available": with_preview,
            "previews_missing": len(rows) - with_preview,
            "previews_downloaded": downloaded,
            "previews_failed": preview_failed,
            "notice": notice,
            "resumed": ck.resumed,
            "requests": client.requests,
        }
    )
    return summary
