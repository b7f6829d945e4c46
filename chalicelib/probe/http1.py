"""HTTP/1.1 for the http check: the request serialized once per monitor, the response parsed by hand.

Hand-written, not h11: on a 1,000-monitor cycle (cProfile, bench/probe_fanout.py) h11 was the
largest share of the probe's CPU, about a third of it (event objects, header validation on every
request and response, its state machine), more than connects and the event loop. A probe needs
little of HTTP: the status, a capped body framed by Content-Length, chunked encoding or the
close, 1xx answers skipped, and whether the connection may be reused. Anything else is refused
as an invalid response. The websocket upgrade, one exchange per connection, keeps h11.

The parser is sans-IO and fed from the connection's `data_received`: a response that arrives in
one segment is parsed in that one call, with no coroutine resumed per header block or chunk.

>>> request_bytes("GET", "/healthz", (("host", "web"),))
b'GET /healthz HTTP/1.1\\r\\nhost: web\\r\\n\\r\\n'
>>> ResponseParser(1024).feed(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")
Response(status=200, body=b'ok', truncated=False, reusable=True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from chalicelib.probe.checks.errors import ProbeFailure

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEX = re.compile(rb"[0-9a-fA-F]+")
_FORBIDDEN_IN_VALUE = re.compile(r"[\x00\r\n]")
NO_BODY_STATUSES = frozenset({204, 304})
LINE_LIMIT = 64 * 1024  # a head or chunk-size line longer than this is not a health answer

# What the parser waits for next.
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _CLOSE = range(7)


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
    return request_line(method, path) + header_block(headers)


def request_line(method: str, path: str) -> bytes:
    if (
        not _TOKEN.fullmatch(method.encode("ascii", "replace"))
        or not path.startswith(("/", "*"))
        or _FORBIDDEN_IN_VALUE.search(path)
    ):
        raise ProbeFailure(f"http: invalid request line {method} {path}")
    return f"{method} {path} HTTP/1.1\r\n".encode("latin-1")


def header_block(headers: tuple[tuple[str, str], ...]) -> bytes:
    """The header lines and the blank line that ends them (shared by a host's monitors)."""
    lines = []
    for name, value in headers:
        if not _TOKEN.fullmatch(name.encode("ascii", "replace")) or _FORBIDDEN_IN_VALUE.search(value):
            raise ProbeFailure(f"http: invalid header {name!r}")
        lines.append(f"{name}: {value}\r\n")
    return ("".join(lines) + "\r\n").encode("latin-1")


class ResponseParser:
    """One response, fed in whatever pieces the socket gives: `feed` returns it once complete.

    At most `cap` bytes of the body are kept; `head` says the request was HEAD (no body follows
    whatever the headers say). `closed()` says what the peer's close means at that point.
    """

    def __init__(self, cap: int, head: bool = False) -> None:
        self.cap = cap
        self.head = head
        self.received = False  # any byte at all: a close before one is NoResponse
        self._buffer = bytearray()
        self._state = _HEAD
        self._status = 0
        self._keep = False
        self._need = 0  # bytes of body (Content-Length) or of the current chunk still wanted
        self._body = bytearray()
        self._scanned = 0  # how far the buffer was searched for the end of the head

    def feed(self, data: bytes) -> Optional[Response]:
        """The response if `data` completed it, else None; InvalidResponse on a malformed one."""
        if data:
            self.received = True
            self._buffer += data
        while True:
            state = self._state
            if state == _HEAD:
                done = self._parse_head()
            elif state == _LENGTH:
                done = self._length_body()
            elif state == _CLOSE:
                done = self._close_body()
            else:
                done = self._chunked()
            if done is not None:
                return done
            if state == self._state:  # nothing moved: wait for more bytes
                return None

    def closed(self) -> Response:
        """The peer closed the connection: the close-delimited body is complete, else an error."""
        if self._state == _CLOSE:
            return Response(self._status, bytes(self._body), truncated=False, reusable=False)
        if self._state == _HEAD and not self.received:
            raise NoResponse("closed before a response")
        if self._state == _HEAD:
            raise ConnectionError("closed before the response ended")
        raise ConnectionError("closed before the body ended")

    def _parse_head(self) -> Optional[Response]:
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n", max(self._scanned - 3, 0))
        if end < 0:
            if len(buffer) > LINE_LIMIT:
                raise InvalidResponse()
            self._scanned = len(buffer)
            return None
        status, fields, keep = parse_head(bytes(buffer[: end + 4]))
        del buffer[: end + 4]
        self._scanned = 0
        if 100 <= status < 200 and status != 101:  # 100 Continue, 103 Early Hints: the answer follows
            return self._parse_head()
        self._status, self._keep = status, keep
        if status == 101:  # switching protocols: nothing more of HTTP on this connection
            return Response(status, b"", truncated=False, reusable=False)
        if self.head or status in NO_BODY_STATUSES:
            return Response(status, b"", truncated=False, reusable=keep and not buffer)
        coding = fields.get(b"transfer-encoding")
        if coding is not None:
            chunked = coding.rsplit(b",", 1)[-1].strip().lower() == b"chunked"
            self._state = _CHUNK_SIZE if chunked else _CLOSE
            return None
        length = fields.get(b"content-length")
        if length is None:
            self._state = _CLOSE
            return None
        if not length.isdigit():
            raise InvalidResponse()
        self._need = int(length)
        self._state = _LENGTH
        return None

    def _length_body(self) -> Optional[Response]:
        size, buffer = self._need, self._buffer
        wanted = min(size, self.cap)
        if len(buffer) < wanted:
            return None
        reusable = self._keep and size <= self.cap and len(buffer) == wanted
        body = bytes(memoryview(buffer)[:wanted])  # one copy, not a slice and then bytes
        return Response(self._status, body, truncated=size > self.cap, reusable=reusable)

    def _close_body(self) -> Optional[Response]:
        body = self._body
        body += self._buffer
        self._buffer.clear()
        if len(body) > self.cap:
            return Response(self._status, bytes(body[: self.cap]), truncated=True, reusable=False)
        return None

    def _chunked(self) -> Optional[Response]:
        """Advances through as many chunk pieces as the buffer holds."""
        buffer, body = self._buffer, self._body
        while True:
            if self._state in (_CHUNK_SIZE, _TRAILERS):
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > LINE_LIMIT:
                        raise InvalidResponse()
                    return None
                line = bytes(buffer[:end])
                del buffer[: end + 2]
                if self._state == _TRAILERS:
                    if not line:  # the empty line after the trailers (ignored) ends the body
                        reusable = self._keep and not buffer
                        return Response(self._status, bytes(body), truncated=False, reusable=reusable)
                    continue
                digits = line.split(b";", 1)[0].strip()
                if not _HEX.fullmatch(digits):
                    raise InvalidResponse()
                self._need = int(digits, 16)
                self._state = _CHUNK_DATA if self._need else _TRAILERS
            elif self._state == _CHUNK_DATA:
                if len(body) + self._need > self.cap and len(body) + len(buffer) >= self.cap:
                    body += buffer[: self.cap - len(body)]
                    return Response(self._status, bytes(body), truncated=True, reusable=False)
                if len(buffer) < self._need:
                    return None
                body += buffer[: self._need]
                del buffer[: self._need]
                self._state = _CHUNK_END
            else:  # the CRLF after a chunk's data
                if len(buffer) < 2:
                    return None
                if buffer[:2] != b"\r\n":
                    raise InvalidResponse()
                del buffer[:2]
                self._state = _CHUNK_SIZE


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
