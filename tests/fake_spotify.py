"""A fake Spotify Web API on a real HTTP server (127.0.0.1, ephemeral port) for the collector's tests.

It imitates the endpoints trackscope uses — ``POST /api/token`` (client credentials), playlist items with paging
(``next`` URLs point back here), search, audio-features, preview mp3s — and injects faults on request: a status with
an optional ``Retry-After`` (429, 5xx, 401, 403), a stall longer than the client's timeout, or revoked tokens.
Every request is logged (method, path, query, status) so tests can check what was (re)fetched.
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "so", "ta", "vi", "ze", "bo", "da", "fe", "gu", "hi", "jo", "pa", "we"]


def spotify_id(rng: random.Random) -> str:
    return "".join(rng.choice(_B62) for _ in range(22))


def make_track(rng: random.Random, *, year: int = 2020, genre: str = "hip-hop", preview: bool = True) -> dict:
    """A synthetic Spotify track object (plus the fake's own ``_genre`` and ``_features``)."""
    tid = spotify_id(rng)
    name = " ".join("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(2)).title()
    return {
        "id": tid,
        "type": "track",
        "name": name,
        "artists": [{"name": f"Artist {rng.randint(1, 40)}"}, {"name": f"Guest {rng.randint(1, 9)}"}][
            : rng.randint(1, 2)
        ],
        "album": {
            "name": f"Album {rng.randint(1, 60)}",
            "release_date": f"{year}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        },
        "duration_ms": rng.randint(120_000, 300_000),
        "popularity": rng.randint(0, 100),
        "explicit": rng.random() < 0.5,
        "preview_url": None if not preview else "PREVIEW",  # filled with the server's URL when served
        "is_local": False,
        "_genre": genre,
        "_year": year,
        "_features": {
            "id": tid,
            "energy": round(rng.random(), 4),
            "liveness": round(rng.random(), 4),
            "tempo": round(60 + 120 * rng.random(), 3),
            "speechiness": round(rng.random(), 4),
            "acousticness": round(rng.random(), 4),
            "instrumentalness": round(rng.random(), 4),
            "danceability": round(rng.random(), 4),
            "duration_ms": 0,
            "loudness": round(-30 * rng.random(), 3),
            "valence": round(rng.random(), 4),
            "key": rng.randint(0, 11),
            "mode": rng.randint(0, 1),
            "time_signature": 4,
        },
    }


@dataclass
class Fault:
    """Answer matching requests (``path`` is a substring of path+query) with ``status`` or a stall, ``times`` times
    (after letting ``skip`` of them through)."""

    path: str
    status: int | None = None
    retry_after: float | None = None
    stall: float = 0.0
    times: int = 1
    expire_tokens: bool = False
    body: dict | str | None = None
    skip: int = 0  # let this many matching requests through first


@dataclass
class FakeSpotify:
    client_id: str = "test-client"
    secret: str = "test-secret"
    playlists: dict[str, list[dict]] = field(default_factory=dict)
    catalogue: list[dict] = field(default_factory=list)
    features_status: int = 200  # 403: the November 2024 change
    item_key: str = "track"  # "item": the 2026 playlist-items shape
    search_max_limit: int = 10
    faults: list[Fault] = field(default_factory=list)
    log: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._token_n = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # headers and body in one write: no 40-ms delayed-ACK stall per request
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def __enter__(self) -> FakeSpotify:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def env(self, **extra: str) -> dict[str, str]:
        """Environment variables that point trackscope at this server."""
        return {
            "SPOTIFY_CLIENT_ID": self.client_id,
            "SPOTIFY_CLIENT_SECRET": self.secret,
            "TRACKSCOPE_SPOTIFY_API_URL": self.url,
            "TRACKSCOPE_SPOTIFY_ACCOUNTS_URL": self.url,
            **extra,
        }

    def inject(self, path: str, **kw: Any) -> Fault:
        fault = Fault(path, **kw)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def requests(self, path: str = "", method: str | None = None) -> list[dict]:
        with self._lock:
            return [r for r in self.log if path in r["target"] and (method is None or r["method"] == method)]

    # -- request handling ------------------------------------------------------------------------------------------
    def _take_fault(self, target: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path in target and fault.times > 0:
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.times -= 1
                    return fault
        return None

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parsed = urlparse(h.path)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        entry = {"method": method, "path": parsed.path, "target": h.path, "query": query, "status": None}
        with self._lock:
            self.log.append(entry)
        fault = self._take_fault(h.path)
        if fault is not None:
            if fault.expire_tokens:
                with self._lock:
                    self._tokens.clear()
            if fault.stall:
                time.sleep(fault.stall)
            if fault.status is not None:
                headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
                if isinstance(fault.body, str):
                    return self._send_raw(h, entry, fault.status, fault.body.encode(), "text/html", headers)
                err = fault.body or {"error": {"status": fault.status, "message": "injected fault"}}
                return self._send(h, entry, fault.status, err, headers)
        if method == "POST" and parsed.path == "/api/token":
            return self._token(h, entry, body)
        if not parsed.path.startswith("/preview/"):
            auth = h.headers.get("Authorization", "")
            with self._lock:
                valid = auth.startswith("Bearer ") and auth[7:] in self._tokens
            if not valid:
                return self._send(h, entry, 401, {"error": {"status": 401, "message": "The access token expired"}})
        m = re.fullmatch(r"/v1/playlists/([^/]+)/items", parsed.path)
        if method == "GET" and m:
            return self._playlist(h, entry, m.group(1), query)
        if method == "GET" and parsed.path == "/v1/search":
            return self._search(h, entry, query)
        if method == "GET" and parsed.path.rstrip("/") == "/v1/audio-features":
            return self._features(h, entry, query)
        m = re.fullmatch(r"/preview/([0-9A-Za-z]+)\.mp3", parsed.path)
        if method == "GET" and m:
            data = self.preview_bytes(m.group(1))
            return self._send_raw(h, entry, 200, data, "audio/mpeg")
        return self._send(h, entry, 404, {"error": {"status": 404, "message": "Service not found"}})

    def _token(self, h: BaseHTTPRequestHandler, entry: dict, body: bytes) -> None:
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        form = parse_qs(body.decode())
        if h.headers.get("Authorization") != expected or form.get("grant_type") != ["client_credentials"]:
            return self._send(h, entry, 400, {"error": "invalid_client", "error_description": "Invalid client"})
        with self._lock:
            self._token_n += 1
            token = f"token-{self._token_n}"
            self._tokens.add(token)
        self._send(h, entry, 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def public(self, track: dict) -> dict:
        out = {k: v for k, v in track.items() if not k.startswith("_")}
        if out.get("preview_url"):
            out["preview_url"] = f"{self.url}/preview/{track['id']}.mp3"
        return out

    @staticmethod
    def preview_bytes(tid: str) -> bytes:
        return b"ID3\x03\x00fake-mp3-" + tid.encode() + b"\x00" * 64

    def _playlist(self, h: BaseHTTPRequestHandler, entry: dict, pid: str, query: dict) -> None:
        if pid not in self.playlists:
            return self._send(h, entry, 404, {"error": {"status": 404, "message": "Resource not found"}})
        tracks = self.playlists[pid]
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 50))
        if limit > 50:
            return self._send(h, entry, 400, {"error": {"status": 400, "message": "Invalid limit"}})
        chunk = tracks[offset : offset + limit]
        items = [
            {"added_at": "2020-01-01T00:00:00Z", self.item_key: None if t is None else self.public(t)} for t in chunk
        ]
        nxt = None
        if offset + limit < len(tracks):
            nxt = f"{self.url}/v1/playlists/{pid}/items?" + urlencode({"offset": offset + limit, "limit": limit})
        self._send(h, entry, 200, {"items": items, "total": len(tracks), "limit": limit, "offset": offset, "next": nxt})

    def _search(self, h: BaseHTTPRequestHandler, entry: dict, query: dict) -> None:
        q = query.get("q", "")
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 10))
        if limit > self.search_max_limit or offset > 1000:
            return self._send(h, entry, 400, {"error": {"status": 400, "message": "Invalid limit"}})
        text = q.split(" ", 1)[0].lower()
        genre = re.search(r'genre:"([^"]+)"', q)
        years = re.search(r"year:(\d{4})(?:-(\d{4}))?", q)
        lo = int(years.group(1)) if years else 0
        hi = int(years.group(2) or years.group(1)) if years else 9999

        def matches(t: dict) -> bool:
            name = t["name"].lower()
            core = text.strip("%")
            hit = name.startswith(core) if not text.startswith("%") else core in name
            return hit and (not genre or t["_genre"] == genre.group(1)) and lo <= t["_year"] <= hi

        found = [t for t in self.catalogue if matches(t)]
        chunk = found[offset : offset + limit]
        tracks = {"items": [self.public(t) for t in chunk], "total": len(found), "limit": limit, "offset": offset}
        self._send(h, entry, 200, {"tracks": tracks})

    def _features(self, h: BaseHTTPRequestHandler, entry: dict, query: dict) -> None:
        if self.features_status != 200:
            status = self.features_status
            return self._send(h, entry, status, {"error": {"status": status, "message": "Forbidden"}})
        ids = [i for i in query.get("ids", "").split(",") if i]
        if len(ids) > 100:
            return self._send(h, entry, 400, {"error": {"status": 400, "message": "Too many ids requested"}})
        known = {t["id"]: t for ts in self.playlists.values() for t in ts if t} | {t["id"]: t for t in self.catalogue}
        rows = []
        for i in ids:
            t = known.get(i)
            rows.append(None if t is None else {**t["_features"], "duration_ms": t["duration_ms"]})
        self._send(h, entry, 200, {"audio_features": rows})

    def _send(self, h: BaseHTTPRequestHandler, entry: dict, status: int, obj: Any, headers: dict | None = None) -> None:
        self._send_raw(h, entry, status, json.dumps(obj).encode(), "application/json", headers)

    def _send_raw(
        self, h: BaseHTTPRequestHandler, entry: dict, status: int, data: bytes, ctype: str, headers: dict | None = None
    ) -> None:
        entry["status"] = status
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)
