"""The websocket kind: the upgrade handshake must answer 101 with the right accept key.

Works the same for Socket.IO endpoints (ws://host/socket.io/?EIO=4&transport=websocket).
"""

from __future__ import annotations

import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import certifi
import websocket

from chalicelib.config.model import Monitor
from chalicelib.probe.checks import watchdog
from chalicelib.probe.checks.base import Outcome
from chalicelib.probe.checks.errors import reason_for, timeout_reason


def sslopt(monitor: Monitor) -> dict[str, Any]:
    if not monitor.verify_tls:
        return {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
    return {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": monitor.ca_bundle or certifi.where()}


class WebSocketCheck:
    """Open the socket (websocket-client checks 101 and Sec-WebSocket-Accept), then close.

    >>> WebSocketCheck().attempt(Monitor(name="ws", url="ws://127.0.0.1:9/", kind="websocket"),
    ...                          timeout=0.5).reason
    'connection refused'
    """

    def attempt(self, monitor: Monitor, timeout: float) -> Outcome:
        start = time.monotonic()
        ws = websocket.WebSocket(sslopt=sslopt(monitor))
        with watchdog.AttemptTimer(timeout) as timer:
            # ws.sock exists once connected; the handshake read is what may trickle.
            timer.on_expiry(lambda: watchdog.shutdown(ws.sock))
            try:
                ws.connect(
                    monitor.url,
                    timeout=timeout,
                    header=[f"{name}: {value}" for name, value in monitor.headers.items()],
                    redirect_limit=0,
                    # like the http session's trust_env=False: no proxy from the environment
                    http_no_proxy=[urlsplit(monitor.url).hostname or ""],
                )
            except Exception as exc:  # every failure becomes a reason
                return Outcome.failed(self._reason(exc, monitor, timeout, timer.expired))
            finally:
                _close(ws)
        if timer.expired:
            return Outcome.failed(timeout_reason(timeout))
        return Outcome(ok=True, latency_ms=(time.monotonic() - start) * 1000)

    @staticmethod
    def _reason(exc: Exception, monitor: Monitor, timeout: float, expired: bool) -> str:
        if expired:
            return timeout_reason(timeout)
        if isinstance(exc, websocket.WebSocketBadStatusException):
            return f"status {exc.status_code}, expected 101"  # its text quotes headers
        if isinstance(exc, websocket.WebSocketException):
            text = str(exc)
            if "Redirect" in text:
                return "status 3xx (redirect), expected 101"
            if "Invalid WebSocket Header" in text:
                return "websocket: invalid upgrade answer (Upgrade/Connection/Accept headers)"
        return reason_for(exc, urlsplit(monitor.url).hostname or "", timeout)


def _close(ws: websocket.WebSocket) -> None:
    """Send the close frame without waiting for the answer; never raises."""
    try:
        ws.close(timeout=0)
    except Exception:
        ws.shutdown()
