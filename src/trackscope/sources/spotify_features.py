"""What Spotify's November 2024 change took away: audio features and previews, fetched where still available.

Since 2024-11-27 new apps (and development-mode apps without extended access) get 403 from audio-features and a
null ``preview_url``. The collector asks anyway, stops at the first 403/404, and reports the change once
(:func:`november_2024_notice`), pointing to trackscope's own audio analysis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trackscope.errors import CollectError
from trackscope.sources.spotify_checkpoint import Checkpoint
from trackscope.sources.spotify_client import SpotifyClient, SpotifyHTTPError
from trackscope.sources.spotify_tracks import FEATURE_COLUMNS

FEATURE_BATCH = 100  # the audio-features endpoint's maximum ids per request

NOVEMBER_2024 = (
    "Spotify no longer gives this app {what}: since 2024-11-27, apps created on or after that day (and "
    "development-mode apps without extended access) get 403 from audio-features and a null preview_url. "
    "The table has the track metadata; compute features from your own audio instead with `trackscope extract` "
    "(a feature table) or `trackscope analyze` (mood and hit potential of songs)."
)


def november_2024_notice(*, features_denied: bool, previews_missing: bool) -> str | None:
    """The one message about Spotify's November 2024 change, naming what is missing (None if nothing is)."""
    missing = [w for w, m in (("audio features", features_denied), ("30-s previews", previews_missing)) if m]
    return NOVEMBER_2024.format(what=" or ".join(missing)) if missing else None


def audio_features(client: SpotifyClient, ck: Checkpoint, ids: list[str]) -> tuple[dict[str, dict[str, Any]], str]:
    """Audio features in batches of 100, resumable; stops asking after the first 403/404 (the 2024 change)."""
    features: dict[str, dict[str, Any]] = {}
    for rec in ck.of_type("features"):
        features.update(rec["rows"])
    asked = {i for rec in ck.of_type("features") for i in rec["ids"]}
    if ck.of_type("features_denied"):
        return features, "denied"
    todo = [i for i in dict.fromkeys(ids) if i not in asked]
    for start in range(0, len(todo), FEATURE_BATCH):
        batch = todo[start : start + FEATURE_BATCH]
        try:
            result = client.call("audio features", lambda b=batch: client.sp.audio_features(b))
        except SpotifyHTTPError as err:
            if err.status not in (403, 404):
                raise
            ck.append({"t": "features_denied", "status": err.status})
            return features, "denied"
        rows = {}
        for item in result or []:
            if isinstance(item, dict) and item.get("id") in batch:
                rows[item["id"]] = {c: item.get(c) for c in FEATURE_COLUMNS}
        ck.append({"t": "features", "ids": batch, "rows": rows})
        features.update(rows)
    got = sum(1 for i in ids if i in features)
    return features, "available" if got == len(ids) else ("partial" if got else "none")


def download_previews(
    client: SpotifyClient, rows: list[dict[str, Any]], folder: Path
) -> tuple[int, list[dict[str, str]]]:
    """Download ``<id>.mp3`` for every track with a preview URL; files already there are kept (resume)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    downloaded, failed = 0, []
    for row in rows:
        url = row.get("preview_url")
        if not url:
            continue
        dest = folder / f"{row['id']}.mp3"
        if dest.exists() and dest.stat().st_size > 0:
            continue
        try:
            client.download(url, dest)
            downloaded += 1
        except CollectError as err:
            failed.append({"id": row["id"], "reason": str(err)})
    return downloaded, failed
