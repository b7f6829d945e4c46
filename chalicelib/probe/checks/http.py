"""The http kind: one HTTP/1.1 exchange (h11) on a pooled connection, judged by `conditions`.

Redirects are answers, never followed; the body is read up to BODY_CAP for every status and
never decoded (`Accept-Encoding: identity`), so neither a huge body nor a compression bomb
can grow memory past the cap.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

import h11

from chalicelib.config.model import Monitor
from chalicelib.probe.checks.base import Outcome
from chalicelib.probe.checks.errors import reason_for
from chalicelib.probe.checks.tls import seconds_left, ssl_context
from chalicelib.probe.conditions import Observation, evaluate
from chalicelib.probe.connections import Connection, Cycle, NoResponse

BODY_CAP = 1 << 20  # 1 MiB: enough for any health document, bounded memory
CHUNK = 64 * 1024
USER_AGENT = "autoheal-probe/1"
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class Target:
    """What a URL says about where and how to connect."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent on the request line
    authority: str  # the Host header

    @property
    def secure(self) -> bool:
        return self.scheme in ("https", "wss")


@functools.lru_cache(maxsize=4096)
def target(url: str) -> Target:
    """Parsed once per URL (monitors come from config); raises ValueError on a bad port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    shown = f"[{host}]" if ":" in host else host
    authority = shown if port == DEFAULT_PORTS.get(parts.scheme) else f"{shown}:{port}"
    return Target(parts.scheme, host, port, path, authority)


@functools.lru_cache(maxsize=4096)
def _request(method: str, url: str, headers: tuple[tuple[str, str], ...]) -> h11.Request:
    """Built and validated once: h11 events are immutable and can be sent many times."""
    where = target(url)
    base = {"host": where.authority, "user-agent": USER_AGENT, "accept": "*/*", "accept-encoding": "identity"}
    if method == "POST":
        base["content-length"] = "0"
    base.update({name.lower(): value for name, value in headers})
    return h11.Request(method=method, target=where.path, headers=list(base.items()))


def request_for(monitor: Monitor) -> h11.Request:
    return _request(monitor.method, monitor.url, tuple(sorted(monitor.headers.items())))


@dataclass
class Answer:
    status: int
    body: bytes
    truncated: bool


class HttpCheck:
    """GET (or `monitor.method`) the URL on a pooled keep-alive connection.

    A pooled connection the server has closed meanwhile is retried once on a fresh one, when
    nothing at all came back on it (the race every keep-alive client meets).

    >>> await HttpCheck().attempt(Monitor(name="web", url="http://127.0.0.1:9/"), cycle)  # doctest: +SKIP
    Outcome(ok=False, latency_ms=None, reason='connection refused')
    """

    async def attempt(self, monitor: Monitor, cycle: Cycle) -> Outcome:
        start = time.monotonic()
        try:
            where = target(monitor.url)
            answer, expiry = await self._exchange(monitor, where, cycle)
        except Exception as exc:  # every failure becomes a reason; cancellation passes through
            return Outcome.failed(reason_for(exc, target_host(monitor.url)))
        elapsed = time.monotonic() - start
        observed = Observation(
            status=answer.status,
            elapsed=elapsed,
            body=answer.body,
            truncated=answer.truncated,
            cert_seconds_left=seconds_left(expiry) if monitor.expect.certificate_valid_for else None,
        )
        reason = evaluate(observed, monitor.expect)
        return Outcome(ok=reason is None, latency_ms=elapsed * 1000, reason=reason)

    async def _exchange(
        self, monitor: Monitor, where: Target, cycle: Cycle
    ) -> tuple[Answer, Optional[float]]:
        tls = ssl_context(monitor.verify_tls, monitor.ca_bundle) if where.secure else None
        request = request_for(monitor)
        conn = cycle.pool.take((where.host, where.port, tls))
        if conn is not None:
            try:
                return await _on(conn, request, cycle), conn.cert_not_after
            except (NoResponse, ConnectionResetError, BrokenPipeError):
                pass  # stale keep-alive connection: once more on a fresh one
        conn = await cycle.connect(where.host, where.port, tls)
        return await _on(conn, request, cycle), conn.cert_not_after


async def _on(conn: Connection, request: h11.Request, cycle: Cycle) -> Answer:
    """One exchange; the connection goes back to the pool only when it ended cleanly."""
    try:
        conn.writer.write(conn.http.send(request) + conn.http.send(h11.EndOfMessage()))
        answer = await read_answer(conn, BODY_CAP)
    except BaseException:
        conn.close()
        raise
    if answer.truncated:
        conn.close()
    else:
        cycle.pool.give(conn)
    return answer


async def read_answer(conn: Connection, cap: int) -> Answer:
    """The final response's status and up to `cap` bytes of its body (Content-Length,
    chunked or close-delimited: h11 tells them apart)."""
    http, reader = conn.http, conn.reader
    status = 0
    chunks: list[bytes] = []
    size = 0
    received = False
    while True:
        event, received = await next_event(http, reader, received)
        if type(event) is h11.Response:
            status = event.status_code
        elif type(event) is h11.Data:
            chunks.append(event.data)
            size += len(event.data)
            if size > cap:
                return Answer(status, b"".join(chunks)[:cap], truncated=True)
        elif type(event) is h11.EndOfMessage:
            return Answer(status, b"".join(chunks), truncated=False)
        elif type(event) is h11.ConnectionClosed:
            raise NoResponse("closed before the response ended")
        # InformationalResponse (100 Continue, 103 Early Hints): the final answer follows


async def next_event(http: h11.Connection, reader, received: bool) -> tuple[object, bool]:
    """The next h11 event, reading from the socket while h11 needs data. Returns it and whether
    any byte has arrived yet; NoResponse when the peer closed before sending one."""
    while (event := http.next_event()) is h11.NEED_DATA:
        data = await reader.read(CHUNK)
        if not data and not received:
            raise NoResponse("closed before a response")
        received = True
        http.receive_data(data)
    return event, received


def target_host(url: str) -> str:
    return urlsplit(url).hostname or ""
