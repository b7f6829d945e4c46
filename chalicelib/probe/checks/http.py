"""The http kind: one request on the shared pooled session, judged by `conditions`."""

from __future__ import annotations

import time
import warnings
from http.cookiejar import Cookie, DefaultCookiePolicy
from typing import Any, Union
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import InsecureRequestWarning

from chalicelib.config.model import Monitor
from chalicelib.probe.checks import watchdog
from chalicelib.probe.checks.base import Outcome
from chalicelib.probe.checks.errors import reason_for, timeout_reason
from chalicelib.probe.checks.tls import certificate_seconds_left
from chalicelib.probe.conditions import Observation, evaluate

BODY_CAP = 1 << 20  # 1 MiB: enough for any health document, bounded memory
CHUNK = 64 * 1024
USER_AGENT = "autoheal-probe/1"
_PREPARED_CACHE = 4096  # entries; monitors come from config, so this is never reached

# verify_tls: false is an explicit choice in the config; don't warn on every probe.
warnings.filterwarnings("ignore", category=InsecureRequestWarning)


class _WatchedMixin:
    """Hands the socket to the attempt's timer before waiting for the response,
    so headers or a body that trickle in cannot outlive the attempt."""

    sock: Any

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        timer = watchdog.current()
        if timer:
            timer.watch(self.sock)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedMixin, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedMixin, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


class _NoCookies(DefaultCookiePolicy):
    """Probes are stateless: a cookie set by one answer never rides on the next probe."""

    def set_ok(self, cookie: Cookie, request: Any) -> bool:
        return False


def new_session(pool_size: int) -> requests.Session:
    """A session whose per-host pool holds `pool_size` connections (one per worker).

    trust_env is off: probes go straight to their URL, whatever proxy variables or
    .netrc the runtime has, and skip those lookups on every request.
    """
    session = requests.Session()
    session.trust_env = False
    session.cookies.set_policy(_NoCookies())
    session.headers["User-Agent"] = USER_AGENT
    adapter = _WatchedAdapter(pool_connections=max(pool_size, 64), pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def verification(monitor: Monitor) -> Union[bool, str]:
    """requests' `verify`: off when verify_tls is false, else the CA bundle or certifi."""
    if not monitor.verify_tls:
        return False
    return monitor.ca_bundle or True


class HttpCheck:
    """GET (or `monitor.method`) the URL; redirects are answers, never followed.

    >>> check = HttpCheck(new_session(4))
    >>> check.attempt(Monitor(name="web", url="http://127.0.0.1:9/"), timeout=0.5).reason
    'connection refused'
    """

    def __init__(self, session: requests.Session) -> None:
        self._session = session
        self._prepared: dict[tuple, requests.PreparedRequest] = {}

    def attempt(self, monitor: Monitor, timeout: float) -> Outcome:
        start = time.monotonic()
        host = urlsplit(monitor.url).hostname or ""
        with watchdog.AttemptTimer(timeout) as timer:
            try:
                observed = self._observe(monitor, timeout, start)
            except Exception as exc:  # every failure becomes a reason
                reason = timeout_reason(timeout) if timer.expired else None
                return Outcome.failed(reason or reason_for(exc, host, timeout))
        if timer.expired:  # the body was cut short by the timer
            return Outcome.failed(timeout_reason(timeout))
        reason = evaluate(observed, monitor.expect)
        return Outcome(ok=reason is None, latency_ms=observed.elapsed * 1000, reason=reason)

    def _observe(self, monitor: Monitor, timeout: float, start: float) -> Observation:
        response = self._session.send(
            self._prepare(monitor),
            timeout=(timeout, timeout),
            stream=True,
            allow_redirects=False,
            verify=verification(monitor),
            proxies={},
        )
        try:
            body, truncated = read_capped(response, start + timeout)
        finally:
            response.close()
        elapsed = time.monotonic() - start
        return Observation(
            status=response.status_code,
            elapsed=elapsed,
            body=body,
            truncated=truncated,
            cert_seconds_left=self._cert_seconds_left(monitor, start + timeout),
        )

    def _prepare(self, monitor: Monitor) -> requests.PreparedRequest:
        """A copy of the monitor's prepared request, built once: preparing (URL parsing,
        header merging) costs about as much CPU as the exchange itself."""
        key = (monitor.method, monitor.url, tuple(sorted(monitor.headers.items())))
        prepared = self._prepared.get(key)
        if prepared is None:
            if len(self._prepared) >= _PREPARED_CACHE:
                self._prepared.clear()
            request = requests.Request(monitor.method, monitor.url, headers=dict(monitor.headers))
            prepared = self._prepared[key] = self._session.prepare_request(request)
        return prepared.copy()

    @staticmethod
    def _cert_seconds_left(monitor: Monitor, deadline: float) -> Union[float, None]:
        parts = urlsplit(monitor.url)
        if monitor.expect.certificate_valid_for is None or parts.scheme != "https":
            return None
        budget = max(deadline - time.monotonic(), 0.001)
        return certificate_seconds_left(parts.hostname or "", parts.port or 443, monitor, budget)


def read_capped(response: requests.Response, deadline: float) -> tuple[bytes, bool]:
    """The body up to BODY_CAP bytes, and whether it was longer."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > BODY_CAP:
            return b"".join(chunks)[:BODY_CAP], True
        if time.monotonic() >= deadline:
            break  # the timer marks the attempt as timed out
    return b"".join(chunks), False
