"""Who may use the studio: nobody needs a token on the loopback address; on any other address one is required.

Two guards hold for every server (:class:`SameOrigin`): a page of another site cannot make the browser change
anything here (a POST or DELETE whose ``Origin`` is not this server's is refused: uploads are "simple" requests
that CORS does not stop), and a server on loopback answers only requests addressed to a loopback name (a web
page that points its own domain at 127.0.0.1 — DNS rebinding — gets 403).

The token travels as ``Authorization: Bearer T``, a ``?token=T`` query parameter (the printed URL carries it), or
the ``trackscope_token`` cookie that the server sets (HttpOnly, SameSite=Strict) on a response to a request that
carried a valid ``?token=`` — so the page's ``<img>``, ``<audio>`` and ``fetch`` calls need nothing more. Every route
but ``/healthz`` answers 401 JSON without it. A pure ASGI middleware (no response buffering: the audio route streams).
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from trackscope.errors import TrackscopeError

COOKIE = "trackscope_token"
OPEN_PATHS = frozenset({"/healthz"})
# What a token may hold: it travels in a URL, a header and a cookie, unquoted (secrets.token_urlsafe's alphabet).
_TOKEN_RE = re.compile(r"[A-Za-z0-9._~-]{1,256}")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1 and ``localhost``."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def check_token(token: str) -> str:
    """``token`` if it can travel in a URL, a header and a cookie as it is; else a TrackscopeError."""
    if not _TOKEN_RE.fullmatch(token):
        raise TrackscopeError(
            "token (--token) must be 1-256 characters of letters, digits and . _ ~ - (it travels in URLs)"
        )
    return token


def resolve_token(host: str, token: str | None) -> str | None:
    """The token the server will require: the given one (required even on loopback when given), a fresh one for a
    non-loopback ``host`` (``secrets.token_urlsafe``), or None (loopback, no token given: open)."""
    if token is not None:
        return check_token(token)
    if is_loopback(host):
        return None
    return secrets.token_urlsafe(24)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _query_token(scope: Scope) -> str | None:
    query = scope.get("query_string", b"").decode("latin-1")
    values = parse_qs(query, keep_blank_values=True).get("token")
    return values[-1] if values else None


def _bearer(scope: Scope) -> str | None:
    auth = _header(scope, b"authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


def _cookie(scope: Scope) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # noqa: BLE001 — a malformed Cookie header is no token
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else None


class TokenAuth:
    """ASGI middleware: lets a request through when it carries ``token`` (header, query or cookie), else 401 JSON."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    def _valid(self, value: str | None) -> bool:
        return value is not None and secrets.compare_digest(value.encode("utf-8", "replace"), self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        from_query = self._valid(_query_token(scope))
        if not (from_query or self._valid(_bearer(scope)) or self._valid(_cookie(scope))):
            await _unauthorized(scope, send)
            return
        if not from_query:
            await self.app(scope, receive, send)
            return
        cookie = f"{COOKIE}={self._token.decode()}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _host_name(host_header: str) -> str:
    """``127.0.0.1`` from ``127.0.0.1:8765``, ``::1`` from ``[::1]:8765``."""
    return (urlsplit("//" + host_header).hostname or "") if host_header else ""


class SameOrigin:
    """ASGI middleware: 403 JSON for a change (any method but GET/HEAD/OPTIONS) sent from another site's page, and,
    with ``loopback_only``, for a request whose Host is not a loopback name (DNS rebinding)."""

    SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app: ASGIApp, loopback_only: bool) -> None:
        self.app = app
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host") or ""
        if self.loopback_only and host and not is_loopback(_host_name(host)):
            await _error(send, 403, "this server answers only on its loopback address (127.0.0.1, localhost)")
            return
        origin = _header(scope, b"origin")
        # curl and scripts send no Origin; a browser always does on a POST/DELETE ("null" from sandboxes: refused)
        cross_site = origin is not None and urlsplit(origin).netloc.lower() != host.lower()
        if cross_site and scope.get("method") not in self.SAFE:
            await _error(send, 403, "changes are accepted only from the studio's own page")
            return
        await self.app(scope, receive, send)


async def _error(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    import json

    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _unauthorized(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    message = "a token is needed: open the URL the server printed (with ?token=)"
    await _error(send, 401, message, [(b"www-authenticate", b"Bearer")])
