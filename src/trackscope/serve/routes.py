"""The studio's JSON API under ``/api`` (the page uses it too) and ``/healthz``.

Songs are named by their id only (``{song_id:int}``: anything else matches no route and is a 404): no route ever
reads a path a client names. Database reads and writes run in FastAPI's thread pool (plain ``def`` endpoints), the
upload streams in the event loop with its file writes in the pool (:mod:`trackscope.serve.uploads`).
"""

from __future__ import annotations

import csv
import io
import logging
import mimetypes
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from trackscope.errors import TrackscopeError
from trackscope.serve.uploads import FIELD, Received, UploadError, receive_files

router = APIRouter()
log = logging.getLogger("trackscope.serve")
MAX_ID = 2**63 - 1
AUDIO_TYPES = {
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".aif": "audio/aiff",
    ".aiff": "audio/aiff",
}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {FIELD: {"type": "array", "items": {"type": "string", "format": "binary"}}},
                }
            }
        },
    }
}


def _studio(request: Request) -> Any:
    return request.app.state.studio


def _song(request: Request, song_id: int) -> dict[str, Any]:
    song = _studio(request).workspace.get_song(song_id) if 0 <= song_id <= MAX_ID else None
    if song is None:
        raise HTTPException(404, f"no song with id {song_id}")
    return song


def _attachment(name: str, suffix: str) -> dict[str, str]:
    """A Content-Disposition naming the download after the song (RFC 6266: an ASCII fallback + the UTF-8 name)."""
    stem = Path(name).stem or "song"
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in " ._-()") else "_" for c in stem).strip() or "song"
    return {
        "Content-Disposition": f"attachment; filename=\"{fallback}{suffix}\"; filename*=UTF-8''{quote(stem + suffix)}"
    }


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON as the standard library writes it (the workspace gives plain values: 2x faster than converting first);
    NaN, infinities or numpy values the fast path refuses go through trackscope's converter (NaN → null)."""
    import json

    try:
        body = json.dumps(obj, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        from trackscope._json import dumps

        body = dumps(obj, indent=None, separators=(",", ":"), ensure_ascii=False)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


@router.get("/healthz", summary="Is the server up (no token needed)")
def healthz() -> dict[str, bool]:
    return {"ok": True}


@router.post(
    "/api/songs", status_code=202, summary="Upload songs (multipart, field 'files')", openapi_extra=UPLOAD_BODY
)
async def upload(request: Request) -> Any:
    """Each file becomes a song (queued for analysis; the same audio twice is one song) or a failed row with a
    one-line reason (empty, not audio, over the size limit). Answers at once: analysis runs in the background."""
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect

    studio = _studio(request)
    try:
        received = await receive_files(request, studio.workspace.temp_path, max_bytes=studio.max_upload_bytes)
    except UploadError as err:
        return JSONResponse({"error": str(err)}, status_code=err.status)
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is listening
    if not received:
        return JSONResponse({"error": f"no files: send them in the multipart field '{FIELD}'"}, status_code=422)
    songs = await run_in_threadpool(_admit, studio, received)
    studio.runner.wake()
    return _json({"songs": songs}, 202)


def _admit(studio: Any, received: list[Received]) -> list[dict[str, Any]]:
    ws = studio.workspace
    out = []
    for item in received:
        try:
            if item.over_limit or item.path is None:
                row = ws.add_failed(item.name, f"over the {studio.max_upload_mb} MB limit", size=item.size)
            else:
                row = ws.add_upload(item.path, item.name)
        except TrackscopeError as err:
            row = ws.add_failed(item.name, err.reason, size=item.size)
        except Exception:  # noqa: BLE001 — one file's bug must not lose the others; the log has the traceback
            log.exception("could not store the upload %r", item.name)
            row = ws.add_failed(item.name, "could not be stored (internal error)", size=item.size)
        finally:
            if item.path is not None:
                item.path.unlink(missing_ok=True)  # add_upload moved it in; whatever is left is ours to remove
        error = row.get("error")
        if row["status"] == "failed" and error is None:  # the workspace's reason (e.g. "empty file")
            error = (ws.get_song(row["id"]) or {}).get("error")
        out.append({"id": row["id"], "name": row["name"], "status": row["status"], "error": error})
    return out


@router.get("/api/songs", summary="List songs (filter, sort, page)")
def list_songs(
    request: Request,
    status: Literal["queued", "analysing", "done", "failed"] | None = None,
    mood: str | None = Query(None, description="a mood class, e.g. Q1", max_length=100),
    q: str | None = Query(None, description="text in the song's name", max_length=500),
    unusual: bool | None = None,
    sort: str = Query("added", description="a column of the song shape, e.g. added, name, mood, tempo"),
    order: Literal["asc", "desc"] = "asc",
    limit: int = Query(500, ge=1, le=5000),
    offset: int = Query(0, ge=0, le=MAX_ID),
) -> Response:
    ws = _studio(request).workspace
    filters = {"status": status, "mood": mood, "search": q or None, "unusual": unusual}
    try:
        songs = ws.list_songs(**filters, sort=sort, descending=order == "desc", limit=limit, offset=offset)
        total = ws.count_songs(**filters)
    except (TrackscopeError, ValueError) as err:  # an unknown sort column
        raise HTTPException(422, str(err)) from None
    return _json({"songs": songs, "total": total})


@router.get("/api/status", summary="The analysis queue: runner state and songs by status")
def status(request: Request) -> Response:
    studio = _studio(request)
    counts = studio.workspace.counts()
    return _json({"runner": studio.runner.status(), "counts": counts, "total": sum(counts.values())})


@router.get("/api/export.csv", summary="Every song as a CSV table")
def export_csv(request: Request) -> Any:
    from starlette.background import BackgroundTask

    studio = _studio(request)
    path = studio.workspace.temp_path(".csv")
    try:
        studio.workspace.export_csv(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(
        path,
        media_type="text/csv; charset=utf-8",
        filename="trackscope-songs.csv",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get("/api/songs/{song_id:int}.json", summary="A song's analysis as a JSON download")
def song_json(request: Request, song_id: int) -> Response:
    song = _song(request, song_id)
    return _json(song, headers=_attachment(song["name"], ".json"))


@router.get("/api/songs/{song_id:int}.csv", summary="A song's windows (mood over time) as a CSV download")
def song_csv(request: Request, song_id: int) -> Response:
    song = _song(request, song_id)
    windows = song.get("windows") or []
    classes = list(song.get("probabilities") or {})
    for w in windows:
        classes += [c for c in (w.get("probabilities") or {}) if c not in classes]
    head = [
        "song_id",
        "name",
        "start",
        "duration",
        "mood",
        "quadrant",
        "confidence",
        "arousal",
        "valence",
        "novelty",
        "unusual",
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(head + [f"p_{c}" for c in classes])
    for w in windows:
        probs = w.get("probabilities") or {}
        writer.writerow(
            [song["id"], song["name"], *(_cell(w.get(k)) for k in head[2:]), *(_cell(probs.get(c)) for c in classes)]
        )
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8", headers=_attachment(song["name"], ".csv"))


def _cell(value: Any) -> Any:
    return "" if value is None else value


@router.get("/api/songs/{song_id:int}/audio", summary="The song's stored audio (Range requests work)")
def song_audio(request: Request, song_id: int) -> Any:
    if not 0 <= song_id <= MAX_ID:
        raise HTTPException(404, f"no song with id {song_id}")
    ws = _studio(request).workspace
    path = ws.audio_path(song_id)
    if path is None or not Path(path).is_file():
        raise HTTPException(404, f"no audio for song {song_id}")
    path = Path(path)
    media = AUDIO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media, content_disposition_type="inline")


@router.get("/api/songs/{song_id:int}/mel.webp", summary="The song's mel spectrogram as a WebP image")
def song_mel(request: Request, song_id: int) -> Response:
    if not 0 <= song_id <= MAX_ID:
        raise HTTPException(404, f"no song with id {song_id}")
    image = _studio(request).workspace.mel_image(song_id)
    if image is None:
        raise HTTPException(404, f"no spectrogram for song {song_id} (not analysed yet?)")
    return Response(image, media_type="image/webp", headers={"Cache-Control": "no-cache"})


@router.get("/api/songs/{song_id:int}", summary="One song: the analysis, its windows, tags and waveform")
def song_detail(request: Request, song_id: int) -> Response:
    return _json(_song(request, song_id))


@router.delete("/api/songs/{song_id:int}", status_code=204, summary="Delete a song, its analyses and its audio")
def delete_song(request: Request, song_id: int) -> Response:
    if not (0 <= song_id <= MAX_ID and _studio(request).workspace.delete_song(song_id)):
        raise HTTPException(404, f"no song with id {song_id}")
    return Response(status_code=204)
