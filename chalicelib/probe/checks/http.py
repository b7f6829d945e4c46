"""The http kind: one HTTP/1.1 exchange (`http1`) on a pooled connection, judged by `conditions`.

Redirects are answers, never followed; the body is read up to BODY_CAP for every status and
never decoded (`Accept-Encoding: identity`), so neither a huge body nor a compression bomb
can grow memory past the cap.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from chalicelib.config.model import Monitor
from chalicelib.probe.checks.base import CheckKind, Outcome, register
from chalicelib.probe.checks.errors import reason_for
from chalicelib.probe.checks.tls import seconds_left, ssl_context
from chalicelib.probe.conditions import Observation, evaluate
from chalicelib.probe.connections import Connection, Cycle
from chalicelib.probe.http1 import NoResponse, Response, ResponseParser, header_block, request_line

BODY_CAP = 1 << 20  # 1 MiB: enough for any health document, bounded memory
USER_AGENT = "autoheal-probe/1"
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class Target:
    """What a URL says about where and how to connect."""

    scheme: str
    host: str
    port: int
    authority: str  # the Host header
    path: str  # path and query, as sent on the request line

    @property
    def secure(self) -> bool:
        return self.scheme in ("https", "wss")


@functools.lru_cache(maxsize=4096)
def target(url: str) -> Target:
    """Parsed once per URL (monitors come from config); raises ValueError on a bad port."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, *_endpoint(parts.scheme, parts.netloc), path=path)


@functools.lru_cache(maxsize=1024)
def _endpoint(scheme: str, netloc: str) -> tuple[str, int, str]:
    """(host, port, Host header) once per endpoint: a first cycle meets each URL for the first time."""
    parts = SplitResult(scheme, netloc, "", "", "")
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS.get(scheme, 80)
    shown = f"[{host}]" if ":" in host else host
    authority = shown if port == DEFAULT_PORTS.get(scheme) else f"{shown}:{port}"
    return host, port, authority


@functools.lru_cache(maxsize=4096)
def _request(method: str, url: str, headers: tuple[tuple[str, str], ...]) -> bytes:
    """Serialized once per monitor: later cycles send the same bytes."""
    where = target(url)
    return request_line(method, where.path) + _headers(method, where.authority, headers)


@functools.lru_cache(maxsize=1024)
def _headers(method: str, authority: str, headers: tuple[tuple[str, str], ...]) -> bytes:
    """The header block, built and checked once per endpoint, not per monitor."""
    base = {"host": authority, "user-agent": USER_AGENT, "accept": "*/*", "accept-encoding": "identity"}
    if method == "POST":
        base["content-length"] = "0"
    base.update({name.lower(): value for name, value in headers})
    return header_block(tuple(base.items()))


def request_for(monitor: Monitor) -> bytes:
    headers = monitor.headers
    return _request(monitor.method, monitor.url, tuple(sorted(headers.items())) if headers else ())


@register
class HttpCheck(CheckKind):
    """GET (or `monitor.method`) the URL on a pooled keep-alive connection.

    A pooled connection the server has closed meanwhile is retried once on a fresh one, when
    nothing at all came back on it (the race every keep-alive client meets).

    >>> await HttpCheck().attempt(Monitor(name="web", url="http://127.0.0.1:9/"), cycle)  # doctest: +SKIP
    Outcome(ok=False, latency_ms=None, reason='connection refused')
    """

    kind = "http"
    schemes = ("http", "https")
    example = "https://app.example.com/healthz"

    async def attempt(self, monitor: Monitor, cycle: Cycle) -> Outcome:
        start = time.monotonic()
        try:
            where = target(monitor.url)
            answer, conn = await self._exchange(monitor, where, cycle)
        except Exception as exc:  # every failure becomes a reason; cancellation passes through
            return Outcome.failed(reason_for(exc, target_host(monitor.url)))
        # Until the answer's last byte arrived, not until this coroutine's turn came.
        arrived = conn.arrived
        elapsed = (arrived if arrived >= start else time.monotonic()) - start
        observed = Observation(
            status=answer.status,
            elapsed=elapsed,
            body=answer.body,
            truncated=answer.truncated,
            cert_seconds_left=seconds_left(conn.cert_not_after)
            if monitor.expect.certificate_valid_for
            else None,
        )
        reason = evaluate(observed, monitor.expect)
        return Outcome(ok=reason is None, latency_ms=elapsed * 1000, reason=reason)

    async def _exchange(self, monitor: Monitor, where: Target, cycle: Cycle) -> tuple[Response, Connection]:
        tls = ssl_context(monitor.verify_tls, monitor.ca_bundle) if where.secure else None
        request = request_for(monitor)
        head = monitor.method == "HEAD"
        conn = cycle.pool.take((where.host, where.port, tls))
        if conn is not None:
            try:
                return await _on(conn, request, cycle, head), conn
            except (NoResponse, ConnectionResetError, BrokenPipeError):
                pass  # stale keep-alive connection: once more on a fresh one
        conn = await cycle.connect(where.host, where.port, tls)
        return await _on(conn, request, cycle, head), conn


async def _on(conn: Connection, request: bytes, cycle: Cycle, head: bool) -> Response:
    """One exchange; the connection goes back to the pool only when it ended cleanly."""
    try:
        answer = await conn.exchange(request, ResponseParser(BODY_CAP, head))
    except BaseException:
        conn.close()
        raise
    cycle.pool.give(conn, answer.reusable)
    return answer


def target_host(url: str) -> str:
    return urlsplit(url).hostname or ""
