"""The studio's web app: :func:`create_app` builds the FastAPI app over a workspace folder.

Pages (``/``, ``/songs/{id}``, ``/docs``: :mod:`trackscope.serve.pages`) are Jinja2 templates from
``serve/templates``; assets are served from ``serve/static`` (shipped in the package: no CDN, no network). The JSON
API lives in :mod:`trackscope.serve.routes`.
Analysis runs in the workspace's :class:`~trackscope.workspace.runner.Runner` (worker processes), started with the
app and stopped at shutdown; requests only read and write the database, in FastAPI's thread pool (plain ``def``
endpoints), so a page answers while songs are analysed. Every error reaches the client as JSON ``{"error": ...}``
(or a small HTML page for the page routes) — never a traceback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackscope.constants import QUADRANT_WORDS

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("trackscope.serve")


@dataclass
class Studio:
    """What the routes share: the open workspace, the runner, and the page context."""

    workspace: Any  # trackscope.workspace.Workspace
    runner: Any  # trackscope.workspace.runner.Runner
    folder: Path
    mood_model: str
    popularity_model: str | None
    classes: list[str]
    max_upload_mb: int

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def context(self, **extra: Any) -> dict[str, Any]:
        from trackscope import __version__

        return {
            "version": __version__,
            "mood_model": self.mood_model,
            "popularity_model": self.popularity_model,
            "classes": list(self.classes),
            "quadrant_words": dict(QUADRANT_WORDS),
            "max_upload_mb": self.max_upload_mb,
            **extra,
        }


def create_app(
    workspace: str | Path,
    *,
    mood_model: str = "builtin:mood",
    popularity_model: str | Path | None = None,
    workers: int = 1,
    max_upload_mb: int = 200,
    token: str | None = None,
    host: str = "127.0.0.1",
) -> Any:  # fastapi.FastAPI
    """The studio over the workspace folder ``workspace``: opens (creates, migrates) it and checks the models now
    (a bad model folder is a :class:`~trackscope.errors.TrackscopeError` before anything listens); the analysis
    runner starts with the app's lifespan. With ``token`` every route but ``/healthz`` requires it
    (:mod:`trackscope.serve.auth`); choosing whether one is needed is the caller's (see ``auth.resolve_token``).
    ``host``: the address it will listen on — on loopback, requests addressed to any other name are refused (DNS
    rebinding); changes sent from another site's page are refused everywhere."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from trackscope import __version__
    from trackscope.errors import TrackscopeError
    from trackscope.serve import pages, routes
    from trackscope.serve.auth import SameOrigin, TokenAuth, check_token, is_loopback
    from trackscope.workspace import Workspace
    from trackscope.workspace.runner import Runner

    if not isinstance(max_upload_mb, int) or isinstance(max_upload_mb, bool) or max_upload_mb < 1:
        raise TrackscopeError(f"max_upload_mb (--max-upload-mb) must be a whole number ≥ 1, got {max_upload_mb!r}")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise TrackscopeError(f"workers (--workers) must be a whole number of at least 1, got {workers!r}")
    folder = Path(workspace).expanduser()
    # the Runner opens and checks the models now: a bad model fails before the server listens
    runner = Runner(folder, mood_model=mood_model, popularity_model=popularity_model, workers=workers)
    ws = Workspace(folder)
    studio = Studio(ws, runner, folder, runner.mood_model, runner.popularity_model, runner.classes, max_upload_mb)

    @asynccontextmanager
    async def lifespan(app: Any):  # noqa: ANN202
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(runner.start)  # recovers interrupted work, then feeds the workers
        try:
            yield
        finally:
            await run_in_threadpool(runner.stop)
            ws.close()

    app = FastAPI(
        title="trackscope studio",
        version=__version__,
        description="Mood and hit potential of your songs, analysed on this machine. The page at / uses this API.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's /docs loads Swagger UI from a CDN: ours is rendered here, offline
        redoc_url=None,
    )
    app.state.studio = studio
    _add_error_handlers(app)
    app.include_router(routes.router)
    app.include_router(pages.router)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if token is not None:
        app.add_middleware(TokenAuth, token=check_token(token))
    app.add_middleware(SameOrigin, loopback_only=is_loopback(host))  # outermost: before the token is looked at
    return app


# --- errors: JSON {"error": "..."} ---------------------------------------------------------------------------------


def _one_line(text: Any) -> str:
    return " ".join(str(text).split()) or "error"


def _validation_message(errors: Any) -> str:
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return _one_line("; ".join(parts) or "invalid request")


def _add_error_handlers(app: Any) -> None:
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    async def http_error(request: Any, exc: Any) -> Any:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        return JSONResponse({"error": _one_line(detail)}, status_code=exc.status_code, headers=exc.headers)

    async def invalid(request: Any, exc: Any) -> Any:
        return JSONResponse({"error": _validation_message(exc.errors())}, status_code=422)

    async def bug(request: Any, exc: Exception) -> Any:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": "internal error (a bug): the server's log has the details"}, status_code=500)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, bug)
