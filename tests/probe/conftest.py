"""Real servers on 127.0.0.1 for the probe tests: hanging, trickling, TLS, websocket."""

from __future__ import annotations

import base64
import datetime
import hashlib
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

from chalicelib.probe import ProbeEngine
from sandbox.certificates import self_signed
from tests.support.servers import SocketServer, hang, read_request  # noqa: F401 - used by the tests here

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@pytest.fixture(scope="session")
def engine() -> ProbeEngine:
    return ProbeEngine(workers=8)


@pytest.fixture
def socket_server() -> Iterator[Callable[[Callable[[socket.socket], None]], SocketServer]]:
    servers: list[SocketServer] = []

    def start(serve: Callable[[socket.socket], None]) -> SocketServer:
        servers.append(SocketServer(serve))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def trickle(conn: socket.socket) -> None:
    """Answers 200 and sends a long body one byte every 50ms."""
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        conn.sendall(b"x")
        time.sleep(0.05)


def trickle_headers(conn: socket.socket) -> None:
    """Sends header lines one byte every 50ms: no single read ever times out."""
    read_request(conn)
    for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 500:
        conn.sendall(bytes([byte]))
        time.sleep(0.05)


def websocket_server(status: int = 101, good_key: bool = True) -> Callable[[socket.socket], None]:
    def serve(conn: socket.socket) -> None:
        request = read_request(conn).decode("latin-1")
        key = next(
            line.split(":", 1)[1].strip()
            for line in request.split("\r\n")
            if line.lower().startswith("sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if not good_key:
            accept = base64.b64encode(b"0" * 20).decode()
        if status == 101:
            head = (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            )
        else:
            head = f"HTTP/1.1 {status} OK\r\nContent-Length: 2\r\n\r\nok"
        conn.sendall(head.encode())
        conn.settimeout(5)
        conn.recv(1024)  # the client's close frame

    return serve


@pytest.fixture
def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_certificate(directory: Path, valid_for: datetime.timedelta) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    return self_signed(directory, valid_for)


class _OkHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class TlsServer:
    """An https server on 127.0.0.1 with a fresh self-signed certificate."""

    def __init__(self, directory: Path, valid_for: datetime.timedelta) -> None:
        self.cert_path, key_path = make_certificate(directory, valid_for)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _OkHandler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}/healthz"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[Callable[[datetime.timedelta], TlsServer]]:
    servers: list[TlsServer] = []

    def start(valid_for: datetime.timedelta, name: Optional[str] = None) -> TlsServer:
        directory = tmp_path / (name or f"tls{len(servers)}")
        directory.mkdir()
        servers.append(TlsServer(directory, valid_for))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
