"""Real socket servers on 127.0.0.1 for tests that need a peer that misbehaves."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from typing import Callable


class SocketServer:
    """Accepts on 127.0.0.1 and runs `serve(conn)` per connection in a thread."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self._serve = serve
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self._serve(conn)

    @property
    def connections(self) -> int:
        return len(self._conns)

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        for conn in self._conns:
            conn.close()


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def hang(conn: socket.socket) -> None:
    """Reads the request, never answers; returns once the client goes away."""
    read_request(conn)
    conn.settimeout(10)
    conn.recv(1)


class InFlight:
    """How many requests a server holds at once, the most it held, and how many it took."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = self.total = 0

    def __enter__(self) -> None:
        with self.lock:
            self.total += 1
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *_: object) -> None:
        with self.lock:
            self.now -= 1


def relay_late(upstream_port: int, delay: float, flight: InFlight | None = None):
    """A slow AWS service: waits `delay`, then relays the request to moto and its answer back."""

    def serve(conn: socket.socket) -> None:
        conn.settimeout(10)
        while request := read_request(conn):
            with flight or contextlib.nullcontext():
                method, path, headers, body = read_body(conn, request)
                time.sleep(delay)
                relay(conn, upstream_port, method, path, headers, body)

    return serve


def read_body(conn: socket.socket, request: bytes) -> tuple[str, str, dict[str, str], bytes]:
    """The request's method, path, headers and whole body (`request` holds its head)."""
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = dict(line.split(": ", 1) for line in lines[1:])
    length = int(headers.get("Content-Length", headers.get("content-length", "0")))
    while len(body) < length:
        body += conn.recv(length - len(body))
    return method, path, headers, body


def relay(
    conn: socket.socket, upstream_port: int, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    """Send the request on to the server at `upstream_port`, and its answer back."""
    upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=10)
    upstream.request(method, path, body=body, headers=headers)
    answer = upstream.getresponse()
    answer_http(conn, answer.status, answer.read(), answer.getheader("Content-Type", "text/xml"))
    upstream.close()


def answer_http(conn: socket.socket, status: int, payload: bytes, content_type: str = "text/xml") -> None:
    reason = http.client.responses.get(status, "")
    conn.sendall(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
