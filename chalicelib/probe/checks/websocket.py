"""The websocket kind: the upgrade request (through h11) must answer 101 with the right
`Sec-WebSocket-Accept`; then a close frame is sent and the connection dropped.

Works the same for Socket.IO endpoints (ws://host/socket.io/?EIO=4&transport=websocket).
"""

from __future__ import annotations

import base64
import hashlib
import os
import time

import h11

from chalicelib.config.model import Monitor
from chalicelib.probe.checks.base import CheckKind, Outcome, register
from chalicelib.probe.checks.errors import ProbeFailure, reason_for
from chalicelib.probe.checks.http import USER_AGENT, target, target_host
from chalicelib.probe.checks.tls import ssl_context
from chalicelib.probe.connections import Connection, Cycle
from chalicelib.probe.http1 import NoResponse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
INVALID = "websocket: invalid upgrade answer (Upgrade/Connection/Accept headers)"
# A masked close frame with code 1000 and an all-zero mask (RFC 6455 allows any mask).
CLOSE_FRAME = bytes([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8])


def accept_for(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


@register
class WebSocketCheck(CheckKind):
    """Open the upgrade on a fresh connection (never pooled), check the answer, close.

    >>> await WebSocketCheck().attempt(Monitor(name="ws", url="ws://127.0.0.1:9/", kind="websocket"),
    ...                                cycle)  # doctest: +SKIP
    Outcome(ok=False, latency_ms=None, reason='connection refused')
    """

    kind = "websocket"
    schemes = ("ws", "wss")
    example = "wss://app.example.com/ws"

    async def attempt(self, monitor: Monitor, cycle: Cycle) -> Outcome:
        start = time.monotonic()
        conn = None
        try:
            where = target(monitor.url)
            tls = ssl_context(monitor.verify_tls, monitor.ca_bundle) if where.secure else None
            conn = await cycle.connect(where.host, where.port, tls)
            key = base64.b64encode(os.urandom(16))
            http = h11.Connection(h11.CLIENT)
            conn.write(http.send(upgrade_request(monitor, key)) + http.send(h11.EndOfMessage()))
            await _upgraded(http, conn, key)
            conn.write(CLOSE_FRAME)
        except Exception as exc:  # every failure becomes a reason; cancellation passes through
            return Outcome.failed(reason_for(exc, target_host(monitor.url)))
        finally:
            if conn is not None:
                conn.close()
        return Outcome(ok=True, latency_ms=(time.monotonic() - start) * 1000)


def upgrade_request(monitor: Monitor, key: bytes) -> h11.Request:
    headers = {
        "host": target(monitor.url).authority,
        "user-agent": USER_AGENT,
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": key.decode(),
        "sec-websocket-version": "13",
    }
    headers.update({name.lower(): value for name, value in monitor.headers.items()})
    return h11.Request(method="GET", target=target(monitor.url).path, headers=list(headers.items()))


async def _upgraded(http: h11.Connection, conn: Connection, key: bytes) -> None:
    """Returns when the answer is a valid 101; raises ProbeFailure with the reason otherwise."""
    received = False
    while True:
        event, received = await next_event(http, conn, received)
        if type(event) is h11.InformationalResponse and event.status_code != 101:
            continue  # 100 or 103: the real answer follows
        if event.status_code != 101:
            raise ProbeFailure(f"status {event.status_code}, expected 101")
        headers = {name: value for name, value in event.headers}
        connection = {token.strip() for token in headers.get(b"connection", b"").lower().split(b",")}
        if (
            headers.get(b"upgrade", b"").lower() != b"websocket"
            or b"upgrade" not in connection
            or headers.get(b"sec-websocket-accept") != accept_for(key)
        ):
            raise ProbeFailure(INVALID)
        return


async def next_event(http: h11.Connection, conn: Connection, received: bool) -> tuple[object, bool]:
    """The next h11 event, reading from the socket while h11 needs data. Returns it and whether
    any byte has arrived yet; NoResponse when the peer closed before sending one."""
    while (event := http.next_event()) is h11.NEED_DATA:
        data = await conn.read()
        if not data and not received:
            raise NoResponse("closed before a response")
        received = True
        http.receive_data(data)
    return event, received
