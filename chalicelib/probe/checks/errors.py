"""Turns the exceptions of requests, urllib3, ssl and sockets into short reasons.

Reasons never quote exception text wholesale: it can carry URLs with tokens or
response headers. Only the facts below (host name, verify message) are kept.
"""

from __future__ import annotations

import socket
import ssl
from http.client import RemoteDisconnected
from typing import Iterator, Optional

from urllib3.exceptions import NameResolutionError

from chalicelib.config.durations import format_duration


def timeout_reason(timeout: float) -> str:
    return f"timeout after {format_duration(round(timeout, 3))}"


def reason_for(exc: BaseException, host: str, timeout: float) -> str:
    """The most specific reason found anywhere in the exception's chain."""
    causes = list(_chain(exc))
    for cause in causes:
        reason = _specific(cause, host, timeout)
        if reason:
            return reason
    return f"error: {type(causes[-1]).__name__}"


def _specific(exc: BaseException, host: str, timeout: float) -> Optional[str]:
    if isinstance(exc, (NameResolutionError, socket.gaierror)):
        return f"dns: host not found: {host}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"tls: certificate verify failed: {exc.verify_message or 'unknown'}"
    if isinstance(exc, ssl.SSLError):
        return f"tls: {exc.reason or 'handshake failed'}".lower()
    if isinstance(exc, (socket.timeout, TimeoutError)) or _named_timeout(exc):
        return timeout_reason(timeout)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, RemoteDisconnected):
        return "connection closed without a response"
    return None


def _named_timeout(exc: BaseException) -> bool:
    # requests' ConnectTimeout/ReadTimeout and urllib3's timeout errors share no base
    # with socket.timeout, but all say so in their names.
    return "Timeout" in type(exc).__name__


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then its causes: __cause__, __context__ and urllib3's `.reason`."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (
            getattr(current, "reason", None),
            current.__cause__,
            current.__context__,
            *(a for a in current.args if isinstance(a, BaseException)),
        ):
            if isinstance(nested, BaseException):
                todo.append(nested)
