"""HTTP/1.1 for the http check: the request serialized once per monitor, the response read by hand.

Hand-written, not h11: on a 1,000-monitor cycle (cProfile, bench/probe_fanout.py) h11 was the
largest share of the probe's CPU, about a third of it (event objects, header validation on every
request and response, its state machine), more than connects and the event loop. A probe needs
little of HTTP: the status, a capped body framed by Content-Length, chunked encoding or the
close, 1xx answers skipped, and whether the connection may be reused. Anything else is refused
as an invalid response. The websocket upgrade, one exchange per connection, keeps h11.

>>> request_bytes("GET", "/healthz", (("host", "web"),))
b'GET /healthz HTTP/1.1\\r\\nhost: web\\r\\n\\r\\n'
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from chalicelib.probe.checks.errors import ProbeFailure

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(r"[\x00\r\n]")
NO_BODY_STATUSES = frozenset({204, 304})


class InvalidResponse(ProbeFailure):
    def __init__(self) -> None:
        super().__init__("http: invalid response")


class NoResponse(ConnectionError):
    """The server closed the connection before sending any byte of a response."""


@dataclass
class Response:
    status: int
    body: bytes
    truncated: bool  # the body went past the cap: only the cap was read
    reusable: bool  # the exchange ended cleanly and the server keeps the connection open


def request_bytes(method: str, path: str, headers: tuple[tuple[str, str], ...]) -> bytes:
    """The request line and headers, checked once: a header cannot smuggle a line break."""
    if not _TOKEN.fullmatch(method.encode("ascii", "replace")) or not path.startswith(("/", "*")):
        raise ProbeFailure(f"http: invalid request line {method} {path}")
    lines = [f"{method} {path} HTTP/1.1"]
    for name, value in headers:
        if not _TOKEN.fullmatch(name.encode("ascii", "replace")) or _FORBIDDEN_IN_VALUE.search(value):
            raise ProbeFailure(f"http: invalid header {name!r}")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def read_response(reader: asyncio.StreamReader, cap: int, head: bool = False) -> Response:
    """The final response: 1xx answers skipped, at most `cap` bytes of its body.

    `head` says the request was HEAD (no body follows whatever the headers say).
    NoResponse when the peer closed before sending a byte (a stale keep-alive connection).
    """
    status, fields, keep = parse_head(await _head(reader, first=True))
    while 100 <= status < 200 and status != 101:  # 100 Continue, 103 Early Hints: the answer follows
        status, fields, keep = parse_head(await _head(reader, first=False))
    if status == 101:  # switching protocols: nothing more of HTTP on this connection
        return Response(status, b"", truncated=False, reusable=False)
    if head or status in NO_BODY_STATUSES:
        return Response(status, b"", truncated=False, reusable=keep)
    coding = fields.get(b"transfer-encoding")
    if coding is not None:
        if coding.rsplit(b",", 1)[-1].strip().lower() != b"chunked":
            return await _until_close(reader, status, cap)
        return await _chunked(reader, status, cap, keep)
    length = fields.get(b"content-length")
    if length is None:
        return await _until_close(reader, status, cap)
    if not length.isdigit():
        raise InvalidResponse()
    size = int(length)
    try:
        body = await reader.readexactly(min(size, cap))
    except asyncio.IncompleteReadError as exc:
        raise ConnectionError("closed before the body ended") from exc
    return Response(status, body, truncated=size > cap, reusable=keep and size <= cap)


async def _head(reader: asyncio.StreamReader, first: bool) -> bytes:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if first and not exc.partial:
            raise NoResponse("closed before a response") from exc
        raise ConnectionError("closed before the response ended") from exc
    except asyncio.LimitOverrunError as exc:  # headers larger than the reader's limit
        raise InvalidResponse() from exc


def parse_head(head: bytes) -> tuple[int, dict[bytes, bytes], bool]:
    """(status, the framing headers by lower-case name, whether the connection may be reused)."""
    lines = head[:-4].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code = rest[:3]
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise InvalidResponse()
    if len(rest) > 3 and rest[3:4] != b" ":
        raise InvalidResponse()
    fields: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise InvalidResponse()
        name = name.lower()
        if name in (b"content-length", b"transfer-encoding", b"connection"):
            value = value.strip()
            if name == b"content-length" and fields.get(name, value) != value:
                raise InvalidResponse()  # two different lengths: the framing is ambiguous
            fields[name] = (
                fields[name] + b"," + value if name in fields and name != b"content-length" else value
            )
    tokens = {token.strip() for token in fields.get(b"connection", b"").lower().split(b",")}
    keep = version == b"HTTP/1.1" and b"close" not in tokens
    return int(code), fields, keep


async def _chunked(reader: asyncio.StreamReader, status: int, cap: int, keep: bool) -> Response:
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            line = await reader.readuntil(b"\r\n")
            digits = line.split(b";", 1)[0].strip()
            if not digits or not all(c in b"0123456789abcdefABCDEF" for c in digits):
                raise InvalidResponse()
            length = int(digits, 16)
            if length == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, ignored
                    pass
                return Response(status, b"".join(chunks), truncated=False, reusable=keep)
            if size + length > cap:
                chunks.append(await reader.readexactly(cap - size))
                return Response(status, b"".join(chunks), truncated=True, reusable=False)
            chunks.append(await reader.readexactly(length))
            size += length
            if await reader.readexactly(2) != b"\r\n":
                raise InvalidResponse()
    except asyncio.IncompleteReadError as exc:
        raise ConnectionError("closed before the body ended") from exc
    except asyncio.LimitOverrunError as exc:
        raise InvalidResponse() from exc


async def _until_close(reader: asyncio.StreamReader, status: int, cap: int) -> Response:
    chunks: list[bytes] = []
    size = 0
    while size <= cap:
        data = await reader.read(cap + 1 - size)
        if not data:
            return Response(status, b"".join(chunks), truncated=False, reusable=False)
        chunks.append(data)
        size += len(data)
    return Response(status, b"".join(chunks)[:cap], truncated=True, reusable=False)
