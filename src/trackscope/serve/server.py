"""Run the studio on uvicorn: bind the socket first (a busy port is one clear error, and ``port=0`` picks a free
one), hand the URL to the caller (the CLI prints it, with ``?token=`` when a token is in use), then serve until
Ctrl-C / SIGTERM, when the app's lifespan stops the analysis runner."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from trackscope.errors import TrackscopeError
from trackscope.serve.auth import resolve_token


def url_for(host: str, port: int, token: str | None) -> str:
    """``http://HOST:PORT/`` (IPv6 hosts in brackets; 0.0.0.0 stays as given), ``?token=T`` when one is needed."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: any free one), or a TrackscopeError saying why not."""
    if not 0 <= port <= 65535:
        raise TrackscopeError(f"port (--port) must be 0-65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise TrackscopeError(f"cannot listen on host (--host) {host!r}: {err.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as err:
        sock.close()
        raise TrackscopeError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.set_inheritable(True)
    return sock


def serve(
    workspace: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    mood_model: str = "builtin:mood",
    popularity_model: str | Path | None = None,
    workers: int = 1,
    max_upload_mb: int = 200,
    token: str | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the studio over ``workspace`` until interrupted. A token is required when ``token`` is given, and on
    any non-loopback ``host`` (generated when not given). ``on_ready(url)`` is called once the socket listens and the
    app is built (the URL carries the token). Bad options, models or a busy port raise TrackscopeError."""
    import uvicorn

    from trackscope.serve.app import create_app

    needed = resolve_token(host, token)
    sock = bind(host, port)  # first: a busy port is said at once, before the models load
    try:
        app = create_app(
            workspace,
            mood_model=mood_model,
            popularity_model=popularity_model,
            workers=workers,
            max_upload_mb=max_upload_mb,
            token=needed,
            host=host,
        )
    except BaseException:
        sock.close()
        raise
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # an access log would write ?token= URLs to the terminal
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready(url_for(host, sock.getsockname()[1], needed))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
