"""A small, robust Spotify Web API client on top of spotipy.

spotipy does the requests and the client-credentials token; this module adds what a long collection run needs:

* bounded retries — 429 honours ``Retry-After`` (up to a cap), 5xx, timeouts and dropped connections are retried
  with exponential backoff and jitter, a 401 (expired token) fetches a new token once;
* base URLs from ``TRACKSCOPE_SPOTIFY_API_URL`` / ``TRACKSCOPE_SPOTIFY_ACCOUNTS_URL`` so a local server can stand in;
* the client secret never reaches a message, a log record or a file (:func:`scrub`, :class:`_ScrubFilter`);
* the token lives in memory only (spotipy's default would write a ``.cache`` file into the user's folder).

spotipy's own urllib3 retry layer is switched off (a plain ``requests.Session``): it can sleep for as long as a 429
asks and then reports every exhausted retry as "429 Max Retries", hiding the real status.
"""

from __future__ import annotations

import base64
import logging
import os
import random
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from trackscope.errors import CollectError

API_URL_ENV = "TRACKSCOPE_SPOTIFY_API_URL"
ACCOUNTS_URL_ENV = "TRACKSCOPE_SPOTIFY_ACCOUNTS_URL"
TIMEOUT_ENV = "TRACKSCOPE_SPOTIFY_TIMEOUT"
CLIENT_ID_ENV = "SPOTIFY_CLIENT_ID"
CLIENT_SECRET_ENV = "SPOTIFY_CLIENT_SECRET"
DEFAULT_API_URL = "https://api.spotify.com"
DEFAULT_ACCOUNTS_URL = "https://accounts.spotify.com"
DEFAULT_TIMEOUT_S = 15.0

T = TypeVar("T")

# Everything that must never be shown: the secret and the Basic auth header derived from it.
_SECRETS: set[str] = set()


def scrub(text: Any) -> str:
    """``str(text)`` with every registered secret (and its base64 forms) replaced by ``***``."""
    out = str(text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        out = out.replace(secret, "***")
    return out


def _register_secret(client_id: str, secret: str) -> None:
    if len(secret) >= 6:  # a real secret has 32 characters; a 1-letter test value would blank out every message
        _SECRETS.add(secret)
    _SECRETS.add(base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii"))
    _SECRETS.add(base64.b64encode(secret.encode()).decode("ascii"))


class _ScrubFilter(logging.Filter):
    """spotipy logs request headers at DEBUG level, the token request's Basic header included: redact them."""

    _bearer = re.compile(r"(Bearer|Basic) [A-Za-z0-9+/=_\-.]+")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 — a malformed record is not ours to fix
            return True
        clean = self._bearer.sub(r"\1 ***", scrub(message))
        if clean != message:
            record.msg, record.args = clean, None
        return True


def _install_log_filter() -> None:
    # A NullHandler keeps spotipy's per-request ERROR lines (one per retried 5xx) off stderr when the application
    # has not configured logging; records still reach handlers the application installs, redacted.
    spotipy_log = logging.getLogger("spotipy")
    if not any(isinstance(h, logging.NullHandler) for h in spotipy_log.handlers):
        spotipy_log.addHandler(logging.NullHandler())
    for name in ("spotipy", "spotipy.client", "spotipy.oauth2", "spotipy.util", "urllib3.connectionpool"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _ScrubFilter) for f in log.filters):
            log.addFilter(_ScrubFilter())


class SpotifyHTTPError(CollectError):
    """Spotify answered with an error status that retrying will not fix (403, 404, 400, ...)."""

    def __init__(self, status: int, what: str, message: str | None = None) -> None:
        self.status = status
        self.what = what
        super().__init__(scrub(f"Spotify answered {status} for {what}" + (f": {message}" if message else "")))


class _TokenRefused(Exception):
    def __init__(self, status: int, error: str | None, headers: Any) -> None:
        super().__init__(error or "")
        self.status = status
        self.error = error
        self.headers = headers or {}


@dataclass
class RetryPolicy:
    """How hard to try before giving up.

    Parameters
    ----------
    max_attempts
        Tries per request, the first one included.
    backoff_base, backoff_cap
        Backoff before retry ``k`` (k = 1, 2, …) is ``min(cap, base * 2**(k-1))`` scaled by a jitter in [0.5, 1].
    retry_after_cap
        Longest ``Retry-After`` honoured; a longer one (Spotify's daily quota) stops the run with a clear message —
        rerunning later resumes from the checkpoint.
    seed
        Seed of the jitter, so a run's waits are reproducible.
    sleep
        The sleep function (tests pass a fast or recording one).
    """

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 120.0
    seed: int = 0
    sleep: Callable[[float], None] = time.sleep
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def backoff(self, retry: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2 ** (retry - 1)) * (0.5 + 0.5 * self._rng.random())


def _retry_after(headers: Any) -> float | None:
    try:
        value = (headers or {}).get("Retry-After")
        return None if value is None else max(0.0, float(value))
    except (TypeError, ValueError):
        return None


def _normal_base(url: str) -> str:
    url = url.strip().rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


class SpotifyClient:
    """Client-credentials access to the Spotify Web API with bounded retries.

    Use :meth:`from_env`; :meth:`call` runs any spotipy call with the retry policy, :meth:`download` fetches a
    preview file. ``requests`` counts all HTTP requests made (for summaries).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        api_url: str = DEFAULT_API_URL,
        accounts_url: str = DEFAULT_ACCOUNTS_URL,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
    ) -> None:
        import requests
        import spotipy
        from spotipy.cache_handler import MemoryCacheHandler

        _register_secret(client_id, client_secret)
        _install_log_filter()
        self.api_url = _normal_base(api_url)
        self.accounts_url = accounts_url.strip().rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.requests = 0
        self._cache = MemoryCacheHandler()

        class _Credentials(spotipy.SpotifyClientCredentials):
            def _handle_oauth_error(self, http_error: Any) -> None:  # keep the status: 5xx/429 are retried
                response = http_error.response
                try:
                    error = response.json().get("error")
                except ValueError:
                    error = response.text or None
                raise _TokenRefused(response.status_code, scrub(error) if error else None, response.headers)

        self._session = requests.Session()  # no urllib3 Retry: our loop decides
        self._auth = _Credentials(
            client_id=client_id,
            client_secret=client_secret,
            requests_session=self._session,
            requests_timeout=timeout,
            cache_handler=self._cache,
        )
        # spotipy reads the token URL from a class attribute; an instance attribute overrides it for this client only.
        self._auth.OAUTH_TOKEN_URL = f"{self.accounts_url}/api/token"
        self.sp = spotipy.Spotify(auth_manager=self._auth, requests_session=self._session, requests_timeout=timeout)
        self.sp.prefix = f"{self.api_url}/v1/"
        self._count_requests()

    def _count_requests(self) -> None:
        original = self._session.request

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.requests += 1
            return original(*args, **kwargs)

        self._session.request = counting  # type: ignore[method-assign]

    @classmethod
    def from_env(cls, *, retry: RetryPolicy | None = None, timeout: float | None = None) -> SpotifyClient:
        """Build a client from ``SPOTIFY_CLIENT_ID`` / ``SPOTIFY_CLIENT_SECRET`` and the base-URL variables."""
        client_id = os.environ.get(CLIENT_ID_ENV, "").strip()
        secret = os.environ.get(CLIENT_SECRET_ENV, "").strip()
        missing = [name for name, v in ((CLIENT_ID_ENV, client_id), (CLIENT_SECRET_ENV, secret)) if not v]
        if missing:
            raise CollectError(
                f"set {' and '.join(missing)} (create an app at https://developer.spotify.com/dashboard and copy "
                "its client id and secret into these environment variables)"
            )
        if timeout is None:
            try:
                timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
            except ValueError:
                raise CollectError(f"{TIMEOUT_ENV} must be a number of seconds") from None
        return cls(
            client_id,
            secret,
            api_url=os.environ.get(API_URL_ENV) or DEFAULT_API_URL,
            accounts_url=os.environ.get(ACCOUNTS_URL_ENV) or DEFAULT_ACCOUNTS_URL,
            timeout=timeout,
            retry=retry,
        )

    # -- the retry loop ---------------------------------------------------------------------------------------------
    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` (a spotipy call) with bounded retries; ``what`` names it in messages."""
        import requests
        from spotipy.exceptions import SpotifyException

        policy = self.retry
        refreshed = False
        last = ""
        for attempt in range(1, policy.max_attempts + 1):
            wait: float | None = None
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # spotipy marks audio_features deprecated
                    return fn()
            except SpotifyException as err:
                status = err.http_status
                if status == 401 and not refreshed:
                    refreshed = True
                    self._cache.token_info = None  # expired or revoked: fetch a new token, once
                    last = "401 (access token expired)"
                    continue
                if status == 429 or (status is not None and status >= 500):
                    last, wait = f"{status}", _retry_after(err.headers) if status == 429 else None
                else:
                    message = getattr(err, "msg", "") or ""
                    message = message.split("\n", 1)[-1].strip() or None
                    raise SpotifyHTTPError(status or 0, what, message) from None
            except _TokenRefused as err:
                if err.status == 429 or err.status >= 500:
                    last, wait = f"{err.status} from the token endpoint", _retry_after(err.headers)
                else:
                    raise CollectError(
                        f"Spotify refused the client credentials ({err.status}, {err.error or 'no reason given'}): "
                        f"check {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}"
                    ) from None
            except requests.exceptions.JSONDecodeError:  # only the token request parses JSON outside spotipy's guard
                raise CollectError(
                    f"the token endpoint {self.accounts_url}/api/token did not answer JSON; "
                    f"check {ACCOUNTS_URL_ENV} (default {DEFAULT_ACCOUNTS_URL})"
                ) from None
            except requests.exceptions.Timeout:
                last = f"no answer within {self.timeout:g} s"
            except requests.exceptions.ConnectionError as err:
                last = scrub(f"connection failed ({type(err).__name__})")
            if attempt == policy.max_attempts:
                break
            if wait is not None and wait > policy.retry_after_cap:
                raise CollectError(
                    f"Spotify asks to wait {wait:.0f} s before {what} (rate limit or daily quota); "
                    "rerun the same command later — it resumes where it stopped"
                )
            policy.sleep(wait if wait is not None else policy.backoff(attempt))
        raise CollectError(
            scrub(
                f"gave up on {what} after {policy.max_attempts} attempts (last: {last}); "
                "rerun the same command to resume where it stopped"
            )
        )

    def download(self, url: str, dest: Path) -> int:
        """Fetch ``url`` into ``dest`` atomically (temp file + rename), with the same retries; returns bytes written."""

        def fetch() -> bytes:
            resp = self._session.get(url, timeout=self.timeout)  # counted by the session wrapper
            if resp.status_code == 429 or resp.status_code >= 500:
                from spotipy.exceptions import SpotifyException

                raise SpotifyException(resp.status_code, -1, "preview", headers=resp.headers)
            if resp.status_code >= 400:
                raise SpotifyHTTPError(resp.status_code, f"preview {dest.stem}")
            return resp.content

        data = self.call(f"preview of {dest.stem}", fetch)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return len(data)
