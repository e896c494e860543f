"""The studio's pages: ``/`` and ``/songs/{id}`` rendered from the Jinja2 templates in ``serve/templates`` with the
context of :meth:`trackscope.serve.app.Studio.context`, and ``/docs``, the API's routes drawn from its OpenAPI
document (FastAPI's Swagger UI would load from a CDN; this page works offline). A page whose template is missing
answers a small plain page, never an error."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

TEMPLATES = Path(__file__).parent / "templates"
MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger id names no song
router = APIRouter(include_in_schema=False)
_ENV: list[Any] = []


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        # the report's templates too: base.html.j2 inlines report/templates/studio.css, the look both share
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(TEMPLATES), jinja2.PackageLoader("trackscope.report")]),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
    )


def _fallback(title: str, message: str, status: int = 200) -> Any:
    t, m = html.escape(title), html.escape(message)
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{t}</title>"
        "<style>body{font:16px system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}"
        f"</style></head><body><h1>{t}</h1><p>{m}</p><p><a href='/'>All songs</a> · "
        "<a href='/docs'>API</a></p></body></html>"
    )
    return HTMLResponse(page, status_code=status)


def render(name: str, context: dict[str, Any]) -> Any:
    import jinja2

    if not _ENV:
        _ENV.append(_environment())
    try:
        template = _ENV[0].get_template(name)
    except jinja2.TemplateNotFound:
        return _fallback("trackscope studio", "This installation has no page templates; the API at /api works.")
    return HTMLResponse(template.render(context))


@router.get("/")
def index(request: Request) -> Any:
    return render("index.html.j2", request.app.state.studio.context())


@router.get("/songs/{song_id}")
def song_page(request: Request, song_id: str) -> Any:
    studio = request.app.state.studio
    sid = int(song_id) if song_id.isascii() and song_id.isdigit() and int(song_id) <= MAX_ID else None
    if sid is None or studio.workspace.get_song(sid) is None:
        return _fallback("No such song", "It may have been deleted.", 404)
    return render("song.html.j2", studio.context(song_id=sid))


@router.get("/docs")
def docs(request: Request) -> Any:
    return HTMLResponse(_docs_page(request.app.openapi()))


def _docs_page(spec: dict[str, Any]) -> str:
    """The API's routes as a plain page drawn from its OpenAPI document (Swagger UI would need a CDN)."""
    esc = html.escape
    rows = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            params = ", ".join(
                f"<code>{esc(p['name'])}</code> ({esc(p.get('in', ''))}"
                + (f": {esc(_one_line(p['description']))}" if p.get("description") else "")
                + ")"
                for p in op.get("parameters", [])
            )
            codes = ", ".join(esc(str(c)) for c in op.get("responses", {}))
            rows.append(
                f"<tr><td><b>{esc(method.upper())}</b></td><td><code>{esc(path)}</code></td>"
                f"<td>{esc(op.get('summary', ''))}<br><small>{esc(_one_line(op.get('description', '')))}</small>"
                f"{'<br><small>' + params + '</small>' if params else ''}</td><td>{codes}</td></tr>"
            )
    info = spec.get("info", {})
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>API · trackscope studio</title><style>"
        "body{font:15px system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}"
        "td{border-top:1px solid #ddd;padding:.5em;vertical-align:top}small{color:#555}</style></head><body>"
        f"<h1>{esc(info.get('title', 'API'))} <small>{esc(str(info.get('version', '')))}</small></h1>"
        f"<p>{esc(info.get('description', ''))} The machine-readable description: "
        "<a href='/openapi.json'>/openapi.json</a> (open it in any OpenAPI tool). Errors are JSON "
        '<code>{"error": "..."}</code>. When the server needs a token, send <code>Authorization: Bearer T</code> '
        "or <code>?token=T</code>.</p>"
        "<table><tr><th>Method</th><th>Path</th><th>What it does</th><th>Answers</th></tr>"
        + "".join(rows)
        + "</table><p><a href='/'>Back to the studio</a></p></body></html>"
    )
