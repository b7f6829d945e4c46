"""Turns the exceptions of sockets, ssl and h11 into short reasons.

Reasons never quote exception text wholesale: it can carry URLs with tokens or
response headers. Only the facts below (host name, verify message) are kept.
"""

from __future__ import annotations

import socket
import ssl
from typing import Iterator, Optional

import h11

from chalicelib.config.durations import format_duration

CLOSED = "connection closed without a response"


class ProbeFailure(Exception):
    """A check's own verdict, whose text is already a reason."""


def timeout_reason(timeout: float) -> str:
    return f"timeout after {format_duration(round(timeout, 3))}"


def reason_for(exc: BaseException, host: str) -> str:
    """The most specific reason found anywhere in the exception's chain."""
    causes = list(_chain(exc))
    for cause in causes:
        reason = _specific(cause, host)
        if reason:
            return reason
    return f"error: {type(causes[-1]).__name__}"


def _specific(exc: BaseException, host: str) -> Optional[str]:
    if isinstance(exc, ProbeFailure):
        return str(exc)
    if isinstance(exc, socket.gaierror):
        return f"dns: host not found: {host}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"tls: certificate verify failed: {exc.verify_message or 'unknown'}"
    if isinstance(exc, ssl.SSLError):
        return f"tls: {exc.reason or 'handshake failed'}".lower()
    if isinstance(exc, TimeoutError):  # the kernel's connect timeout, before the attempt's own
        return "timeout: connect timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, (ConnectionError, EOFError)):
        return CLOSED  # includes NoResponse and asyncio's IncompleteReadError
    if isinstance(exc, h11.RemoteProtocolError):
        return "http: invalid response"
    if isinstance(exc, ValueError) and "port" in str(exc):
        return "invalid port in url"
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then its causes: __cause__ and __context__."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (current.__cause__, current.__context__):
            if isinstance(nested, BaseException):
                todo.append(nested)
