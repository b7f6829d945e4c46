"""The tcp kind: tcp://host:port accepts a connection within the timeout."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from chalicelib.config.model import Monitor
from chalicelib.probe.checks.base import CheckKind, Outcome, register
from chalicelib.probe.checks.errors import reason_for
from chalicelib.probe.connections import Cycle


@register
class TcpCheck(CheckKind):
    """Connect, then close at once.

    >>> db = Monitor(name="db", url="tcp://127.0.0.1:9", kind="tcp")
    >>> await TcpCheck().attempt(db, cycle)  # doctest: +SKIP
    Outcome(ok=False, latency_ms=None, reason='connection refused')
    """

    kind = "tcp"
    schemes = ("tcp",)
    example = "tcp://db.internal:5432"
    needs_port = True

    async def attempt(self, monitor: Monitor, cycle: Cycle) -> Outcome:
        parts = urlsplit(monitor.url)
        host = parts.hostname or ""
        start = time.monotonic()
        try:
            port = parts.port
        except ValueError:
            return Outcome.failed("tcp: invalid port in url")
        if port is None:
            return Outcome.failed("tcp: url needs a port, like tcp://host:5432")
        try:
            conn = await cycle.connect(host, port, tls=None)
        except Exception as exc:  # every failure becomes a reason; cancellation passes through
            return Outcome.failed(reason_for(exc, host))
        conn.close()
        return Outcome(ok=True, latency_ms=(time.monotonic() - start) * 1000)
