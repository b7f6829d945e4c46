"""The tcp kind: tcp://host:port accepts a connection within the timeout."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from chalicelib.config.model import Monitor
from chalicelib.probe.checks.base import Outcome
from chalicelib.probe.checks.errors import reason_for


class TcpCheck:
    """Connect, then close at once.

    >>> TcpCheck().attempt(Monitor(name="db", url="tcp://127.0.0.1:9", kind="tcp"), 0.5).reason
    'connection refused'
    """

    def attempt(self, monitor: Monitor, timeout: float) -> Outcome:
        parts = urlsplit(monitor.url)
        host = parts.hostname or ""
        start = time.monotonic()
        try:
            port = parts.port
            if port is None:
                return Outcome.failed("tcp: url needs a port, like tcp://host:5432")
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except ValueError:
            return Outcome.failed("tcp: invalid port in url")
        except OSError as exc:
            return Outcome.failed(reason_for(exc, host, timeout))
        return Outcome(ok=True, latency_ms=(time.monotonic() - start) * 1000)
