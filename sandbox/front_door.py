"""The local world's load balancer: does on 127.0.0.1 what an ALB does with what moto stores.

Each listener of the named load balancers gets a local port. Every ``refresh_seconds`` the door
re-reads listeners, rules (by priority), target groups, their stickiness and their targets'
health from moto (health is the sandbox's live check, see ``sandbox.moto_server``), so a
ModifyListener made by autoheal moves traffic within a second. For each request it evaluates the
rules' conditions, then forwards by weight (with the ``AWSALBTG`` cookie when the action's
stickiness is on), redirects, answers a fixed response, or answers 503 when the chosen group has
no registered target. A websocket stays on the target it was opened on, whatever the weights do
afterwards, as on an ALB. Per-target-group metrics go to moto's CloudWatch every
``metrics_seconds`` (``sandbox.alb_metrics``), and :attr:`FrontDoor.served` counts which app
version (``X-App-Version``) answered each request.

Usage::

    door = FrontDoor(boto3.client, ["web-alb"]).start()
    requests.get(door.url("web-alb", 80) + "/")        # served by blue or green, by weight
    door.served.counts()                                # {"v1": 9, "v2": 1}
    door.stop()
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from sandbox.alb_metrics import MetricBatch, MetricPublisher
from sandbox.alb_routing import (
    Answer,
    Balancer,
    Forward,
    Request,
    fixed_response,
    matching_rule,
    redirect,
    service_unavailable,
)
from sandbox.alb_state import ListenerView, MotoReader, Snapshot
from sandbox.ports import LOOPBACK
from sandbox.served import Served

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
}
VERSION_HEADER = "X-App-Version"
MAX_HEAD = 64 * 1024
ListenerKey = tuple[str, int]  # (load balancer name, listener port)


class FrontDoorError(RuntimeError):
    """The door cannot start: a load balancer or listener it was asked for is not in moto."""


class FrontDoor:
    """``clients(service)`` gives boto3 clients on the local AWS; ``ports`` fixes local ports per
    (load balancer, listener port) (free ports otherwise). ``target_timeout`` is how long a target
    may take to answer before the door answers 504 (an ALB's idle timeout, shortened for tests)."""

    def __init__(
        self,
        clients: Callable[[str], Any],
        load_balancers: Sequence[str],
        *,
        ports: Mapping[ListenerKey, int] | None = None,
        refresh_seconds: float = 0.5,
        metrics_seconds: float = 5.0,
        target_timeout: float = 5.0,
        idle_timeout: float = 60.0,
        seed: int | None = None,
    ) -> None:
        self.reader = MotoReader(clients, load_balancers)
        self.balancer = Balancer(seed)
        self.served = Served()
        self.metrics = MetricBatch()
        self.publisher = MetricPublisher(clients("cloudwatch"), self.metrics, metrics_seconds)
        self.refresh_seconds = refresh_seconds
        self.target_timeout = target_timeout
        self.idle_timeout = idle_timeout
        self.refresh_errors = 0
        self._wanted_ports = dict(ports or {})
        self._snapshot = Snapshot()
        self._servers: dict[ListenerKey, _DoorServer] = {}
        self._stopping = threading.Event()
        self._refresher = threading.Thread(target=self._refresh_loop, name="front-door-refresh", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FrontDoor:
        snapshot = self.refresh()
        if not snapshot.listeners:
            raise FrontDoorError(f"no listener found on load balancers {self.reader.load_balancers}")
        try:
            for key in snapshot.listeners:
                self._serve(key)
        except BaseException:
            self.stop()
            raise
        self._refresher.start()
        self.publisher.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        if self._refresher.is_alive():
            self._refresher.join(5.0)
        self.publisher.stop()

    def __enter__(self) -> FrontDoor:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what callers read -------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def refresh(self) -> Snapshot:
        """Read moto now (the background loop does this every ``refresh_seconds``)."""
        self._snapshot = self.reader.read()
        return self._snapshot

    def url(self, load_balancer: str, port: int) -> str:
        try:
            server = self._servers[(load_balancer, port)]
        except KeyError:
            raise KeyError(
                f"no listener {load_balancer}:{port}; listeners: {sorted(self._servers)}"
            ) from None
        return f"http://{LOOPBACK}:{server.server_address[1]}"

    def urls(self) -> dict[str, str]:
        """``{"web-alb:80": "http://127.0.0.1:53817", ...}``"""
        return {f"{name}:{port}": self.url(name, port) for name, port in sorted(self._servers)}

    # -- internals ---------------------------------------------------------------------------------

    def _serve(self, key: ListenerKey) -> None:
        server = _DoorServer((LOOPBACK, self._wanted_ports.get(key, 0)), _ListenerHandler)
        server.daemon_threads = True  # an open websocket never keeps the process alive
        server.door = self  # type: ignore[attr-defined]
        server.listener_key = key  # type: ignore[attr-defined]
        self._servers[key] = server
        threading.Thread(
            target=server.serve_forever, name=f"front-door-{key[0]}-{key[1]}", daemon=True
        ).start()

    def _refresh_loop(self) -> None:
        while not self._stopping.wait(self.refresh_seconds):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - moto busy or going away: keep routing on the last view
                self.refresh_errors += 1

    def record(
        self, view: ListenerView, forward: Forward, status: int | None, seconds: float | None, version: str
    ) -> None:
        self.metrics.record(view.load_balancer_dimension, forward.group.dimension, status, seconds)
        self.served.record(version, status or 504)


class _DoorServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a probe's timeout) is normal traffic, not a traceback."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class _ListenerHandler(BaseHTTPRequestHandler):
    """One listener: pick the rule, then answer, redirect or proxy (websockets included)."""

    protocol_version = "HTTP/1.1"
    server_version = "awselb/2.0"

    @property
    def door(self) -> FrontDoor:
        return self.server.door  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.route()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the door is quiet; what it did shows in its counters and metrics

    def route(self) -> None:
        body = self._read_body()
        if body is None:
            return
        request = self._request()
        snapshot = self.door.snapshot
        view = snapshot.listeners.get(self.server.listener_key)  # type: ignore[attr-defined]
        rule = matching_rule(view.rules, request) if view else None
        action = next((a for a in rule.actions if a.get("Type") in _TERMINAL), None) if rule else None
        if view is None or action is None:
            self.answer(service_unavailable())
        elif action["Type"] == "redirect":
            self.answer(redirect(action.get("RedirectConfig") or {}, request))
        elif action["Type"] == "fixed-response":
            self.answer(fixed_response(action.get("FixedResponseConfig") or {}))
        else:
            forward = self.door.balancer.forward(action, snapshot.groups, request)
            if forward is None or forward.target is None:
                self.answer(service_unavailable())
                self.door.served.record("", 503)
            elif request.headers.get("upgrade", "").lower() == "websocket":
                self.websocket(view, forward)
            else:
                self.proxy(view, forward, body)

    def answer(self, answer: Answer, cookies: Sequence[str] = ()) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        for cookie in cookies:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    # -- HTTP ------------------------------------------------------------------------------------

    def proxy(self, view: ListenerView, forward: Forward, body: bytes) -> None:
        host, port = _split(forward.target.address)  # type: ignore[union-attr]
        connection = http.client.HTTPConnection(host, port, timeout=self.door.target_timeout)
        started = time.monotonic()
        try:
            connection.request(self.command, self.path, body or None, self._forward_headers())
            response = connection.getresponse()
            content = response.read()
        except TimeoutError:
            self.door.record(view, forward, None, None, "")
            self.answer(_gateway(504, "Gateway Timeout"), forward.set_cookies)
            return
        except (OSError, http.client.HTTPException):
            self.door.record(view, forward, 502, None, "")
            self.answer(_gateway(502, "Bad Gateway"), forward.set_cookies)
            return
        finally:
            connection.close()
        elapsed = time.monotonic() - started
        self.door.record(view, forward, response.status, elapsed, response.getheader(VERSION_HEADER) or "")
        headers = [
            (k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP | {"server", "date"}
        ]
        if self.command == "HEAD" and response.getheader("Content-Length"):
            headers.append(("Content-Length", response.getheader("Content-Length") or "0"))
        self.send_response(response.status, response.reason)
        for name, value in headers:
            self.send_header(name, value)
        for cookie in forward.set_cookies:
            self.send_header("Set-Cookie", cookie)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def _forward_headers(self) -> dict[str, str]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        client = self.client_address[0]
        previous = self.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{previous}, {client}" if previous else client
        headers["X-Forwarded-Proto"] = "http"
        headers["X-Forwarded-Port"] = str(self.server.server_address[1])
        headers["X-Amzn-Trace-Id"] = f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"
        return headers

    # -- websocket -------------------------------------------------------------------------------

    def websocket(self, view: ListenerView, forward: Forward) -> None:
        """Hand the upgrade to the target, then copy bytes both ways until one side closes."""
        self.close_connection = True
        try:
            upstream = socket.create_connection(
                _split(forward.target.address), timeout=self.door.target_timeout
            )  # type: ignore[union-attr]
        except OSError:
            self.door.record(view, forward, 502, None, "")
            self.answer(_gateway(502, "Bad Gateway"))
            return
        with upstream:
            started = time.monotonic()
            try:
                upstream.sendall(self._upgrade_head().encode("latin-1"))
                head, rest = _read_head(upstream)
            except OSError:
                self.door.record(view, forward, None, None, "")
                self.answer(_gateway(504, "Gateway Timeout"))
                return
            status, version = _status_and_version(head)
            self.door.record(view, forward, status, time.monotonic() - started, version)
            self.wfile.write(_with_cookies(head, forward.set_cookies) + rest)
            if status == 101:
                self._pipe(upstream)

    def _upgrade_head(self) -> str:
        lines = [f"{self.command} {self.path} HTTP/1.1"]
        forwarded = self._forward_headers()
        lines += [f"{k}: {v}" for k, v in forwarded.items()]
        lines += [f"{k}: {v}" for k, v in self.headers.items() if k.lower() in ("upgrade", "connection")]
        return "\r\n".join(lines) + "\r\n\r\n"

    def _pipe(self, upstream: socket.socket) -> None:
        upstream.settimeout(self.door.idle_timeout)
        self.connection.settimeout(self.door.idle_timeout)

        def client_to_target() -> None:
            with contextlib.suppress(OSError, ValueError):
                while data := self.rfile.read1(65536):  # type: ignore[attr-defined]
                    upstream.sendall(data)
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)

        reader = threading.Thread(target=client_to_target, daemon=True)
        reader.start()
        with contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                self.connection.sendall(data)
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)  # wakes the reader
        reader.join(self.door.idle_timeout)

    # -- request parts ---------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.answer(
                Answer(411, (("Content-Type", "text/plain"),), b"chunked request bodies: use Content-Length")
            )
            self.close_connection = True
            return None
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _request(self) -> Request:
        url = urlsplit(self.path)
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip().lower()
        return Request(
            self.command,
            url.path or "/",
            url.query,
            host,
            int(self.server.server_address[1]),
            {k.lower(): v for k, v in self.headers.items()},
            _cookies(self.headers.get_all("Cookie") or []),
        )


_TERMINAL = ("forward", "redirect", "fixed-response")


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def _gateway(status: int, text: str) -> Answer:
    body = f"<html><body><h1>{status} {text}</h1></body></html>".encode()
    return Answer(status, (("Content-Type", "text/html"),), body)


def _cookies(headers: Sequence[str]) -> dict[str, str]:
    jar: dict[str, str] = {}
    for header in headers:
        cookie = SimpleCookie()
        with contextlib.suppress(CookieError):
            cookie.load(header)
        jar.update({name: morsel.value for name, morsel in cookie.items()})
    return jar


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The response head (through the blank line) and whatever bytes followed it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk or len(data) > MAX_HEAD:
            raise ConnectionError("the target closed before answering the upgrade")
        data += chunk
    end = data.index(b"\r\n\r\n") + 4
    return data[:end], data[end:]


def _status_and_version(head: bytes) -> tuple[int, str]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    version = next(
        (line.split(":", 1)[1].strip() for line in lines[1:] if line.lower().startswith("x-app-version:")), ""
    )
    return status, version


def _with_cookies(head: bytes, cookies: Sequence[str]) -> bytes:
    if not cookies:
        return head
    extra = "".join(f"Set-Cookie: {c}\r\n" for c in cookies).encode("latin-1")
    return head[:-2] + extra + b"\r\n"
