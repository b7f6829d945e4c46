"""One instance of the user's web app: a real HTTP server that fails on cue.

It answers like the app autoheal watches: ``/`` (an HTML page naming the instance),
``/healthz`` and ``/api/healthz`` (JSON with its ``version``, CORS-open because the maintenance
page polls them from another origin), and a websocket at ``/ws`` and ``/socket.io/`` that says
hello and echoes what it is sent. Every answer carries ``X-App-Version`` (blue runs v1, green v2),
so whoever sits in front can count which version served a request.

Faults are set on a *separate* control port, so a hung app port never blocks them::

    python -m sandbox.fleet_app --port 8081 --control-port 9081 --name blue-1 \\
        --version v1 --state-file blue-1.state.json
    curl -X POST 'http://127.0.0.1:9081/fault/slow?seconds=2'
    curl -X POST 'http://127.0.0.1:9081/fault/hang?sticky=1'   # survives restarts
    curl http://127.0.0.1:9081/state

Modes: none | hang | error | slow | degraded | die. A *sticky* fault is written to the
state file and comes back when the process restarts: an app that never recovers.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import html
import json
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

from sandbox.ports import LOOPBACK

MODES = ("none", "hang", "error", "slow", "degraded", "die")
HANG_LIMIT = 300.0  # a hung request ends by itself, so no thread outlives a test run
DEFAULT_SLOW_SECONDS = 3.0
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
WS_MAX_LIFE = 30.0  # an idle websocket is closed by the server after this long
WS_MAX_FRAME = 64 * 1024
HEALTH_PATHS = ("/healthz", "/api/healthz")
WS_PATHS = ("/ws", "/socket.io")


@dataclass(frozen=True)
class Fault:
    """The app's current misbehaviour; ``seconds`` only matters for ``slow``."""

    mode: str = "none"
    seconds: float | None = None
    sticky: bool = False


class AppState:
    """The fault shared by both servers, plus the sticky-fault file."""

    def __init__(self, name: str, color: str, state_file: Path | None, version: str = "") -> None:
        self.name = name
        self.color = color
        self.version = version
        self.state_file = state_file
        self.started_at = time.time()
        self._fault = load_sticky_fault(state_file)
        # Hung requests wait on this, so clearing the fault releases them.
        self._changed = threading.Condition()

    @property
    def fault(self) -> Fault:
        with self._changed:
            return self._fault

    def set_fault(self, fault: Fault) -> None:
        """Switch mode; the newest fault decides what the state file holds."""
        save_sticky_fault(self.state_file, fault)
        with self._changed:
            self._fault = fault
            self._changed.notify_all()

    def hang(self, limit: float = HANG_LIMIT) -> Fault:
        """Block while the mode is ``hang`` (at most ``limit`` s); return the new fault."""
        deadline = time.monotonic() + limit
        with self._changed:
            while self._fault.mode == "hang":
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return self._fault

    def snapshot(self) -> dict[str, Any]:
        return {
            "instance": self.name,
            "color": self.color,
            "version": self.version,
            "pid": os.getpid(),
            "started_at": self.started_at,
            **asdict(self.fault),
        }


def load_sticky_fault(state_file: Path | None) -> Fault:
    """The sticky fault recorded in ``state_file``, or no fault."""
    if state_file is None or not state_file.exists():
        return Fault()
    try:
        data = json.loads(state_file.read_text())
        fault = Fault(data["mode"], data.get("seconds"), bool(data.get("sticky")))
    except (ValueError, KeyError, TypeError) as err:
        print(f"ignoring unreadable state file: {err}", file=sys.stderr)
        return Fault()
    return fault if fault.sticky and fault.mode in MODES else Fault()


def save_sticky_fault(state_file: Path | None, fault: Fault) -> None:
    if state_file is None:
        return
    if fault.sticky and fault.mode != "none":
        state_file.write_text(json.dumps(asdict(fault)))
    else:
        state_file.unlink(missing_ok=True)


def websocket_accept(key: str) -> str:
    """The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key (RFC 6455)."""
    digest = hashlib.sha1((key + WS_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def websocket_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final server frame (servers never mask, RFC 6455 5.1)."""
    head = bytes([0x80 | opcode])
    if len(payload) < 126:
        return head + bytes([len(payload)]) + payload
    return head + bytes([126]) + len(payload).to_bytes(2, "big") + payload


def read_websocket_frame(stream: BinaryIO) -> tuple[int, bytes] | None:
    """One client frame (masked, RFC 6455 5.2) as (opcode, payload); None at EOF or when too big."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(stream.read(2), "big")
    elif length == 127:
        length = int.from_bytes(stream.read(8), "big")
    if length > WS_MAX_FRAME:
        return None
    mask = stream.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = stream.read(length)
    if len(mask) < 4 or len(data) < length:
        return None
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def _valid_websocket_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        return False


class _JsonHandler(BaseHTTPRequestHandler):
    """Shared plumbing: HTTP/1.1 with explicit lengths, JSON and HTML replies."""

    protocol_version = "HTTP/1.1"
    server_version = "autoheal-sandbox-app/1.0"

    @property
    def state(self) -> AppState:
        return self.server.app_state  # type: ignore[attr-defined]

    def reply(
        self,
        status: int,
        body: bytes,
        content_type: str,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-App-Version", self.state.version)
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, status: int, data: Any, extra_headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.reply(status, body, "application/json", extra_headers)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        sys.stderr.write(f"[{self.state.name}] {self.address_string()} {format % args}\n")


CORS = {"Access-Control-Allow-Origin": "*"}


class AppHandler(_JsonHandler):
    """The app port: what users, probes and the front door see."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        fault = self.state.fault
        if fault.mode == "hang":
            fault = self.state.hang()
            if fault.mode == "hang":  # still hung at the limit: drop the connection
                self.close_connection = True
                return
        if fault.mode == "slow":
            time.sleep(fault.seconds if fault.seconds is not None else DEFAULT_SLOW_SECONDS)
        self.route(fault)

    def do_OPTIONS(self) -> None:  # noqa: N802
        # CORS preflight, in case the maintenance page sends custom headers.
        headers = {**CORS, "Access-Control-Allow-Methods": "GET, OPTIONS"}
        headers["Access-Control-Allow-Headers"] = "*"
        self.reply(204, b"", "text/plain", headers)

    def route(self, fault: Fault) -> None:
        path = urlsplit(self.path).path
        if path in HEALTH_PATHS:
            self.health(fault)
        elif path in WS_PATHS or path.startswith("/socket.io/"):
            self.websocket(fault)
        elif path in ("/", "/index.html"):
            self.page(fault)
        else:
            self.reply_json(404, {"error": "not found", "path": path})

    def health(self, fault: Fault) -> None:
        who = {"instance": self.state.name, "version": self.state.version}
        if fault.mode == "error":
            self.reply_json(500, {"status": "error", **who}, CORS)
        elif fault.mode == "degraded":
            self.reply_json(200, {"status": "degraded", **who}, CORS)
        else:
            self.reply_json(200, {"status": "ok", **who}, CORS)

    def page(self, fault: Fault) -> None:
        name = html.escape(self.state.name)
        color = html.escape(self.state.color)
        status = 500 if fault.mode == "error" else 200
        text = "Internal Server Error" if status == 500 else f"Hello from {name}"
        body = (
            f"<!doctype html><html><head><title>{name}</title></head>"
            f'<body data-instance="{name}" data-color="{color}">'
            f"<h1>{text}</h1><p>instance {name} ({color})</p></body></html>"
        )
        self.reply(status, body.encode(), "text/html; charset=utf-8")

    def websocket(self, fault: Fault) -> None:
        key = self.headers.get("Sec-WebSocket-Key", "")
        upgrade = self.headers.get("Upgrade", "").lower() == "websocket"
        if fault.mode == "error":
            self.reply_json(500, {"status": "error", "instance": self.state.name})
        elif not upgrade or not _valid_websocket_key(key):
            self.reply_json(400, {"error": "expected a websocket upgrade"})
        else:
            self.accept_websocket(key)

    def accept_websocket(self, key: str) -> None:
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", websocket_accept(key))
        self.send_header("X-App-Version", self.state.version)
        self.end_headers()
        self.send_json_frame({"status": "ok"})
        self.echo_until_closed()
        self.close_connection = True

    def send_json_frame(self, data: dict[str, Any]) -> None:
        who = {"instance": self.state.name, "version": self.state.version}
        self.wfile.write(websocket_frame(0x1, json.dumps({**who, **data}).encode()))
        self.wfile.flush()

    def echo_until_closed(self) -> None:
        """Answer each text frame with who answered it, so a client sees which instance holds its
        socket; end on close, EOF, or WS_MAX_LIFE of silence (no thread outlives a test run)."""
        self.connection.settimeout(WS_MAX_LIFE)
        while True:
            try:
                frame = read_websocket_frame(self.rfile)
            except OSError:  # silent too long, or the client went away
                break
            if frame is None or frame[0] == 0x8:
                break
            opcode, payload = frame
            if opcode == 0x9:
                self.wfile.write(websocket_frame(0xA, payload))
            elif opcode == 0x1:
                self.send_json_frame({"echo": payload.decode("utf-8", "replace")})
        with contextlib.suppress(OSError):
            self.wfile.write(websocket_frame(0x8, (1000).to_bytes(2, "big")))


class ControlHandler(_JsonHandler):
    """The control port: set a fault, read the state. Never faulted itself."""

    def do_GET(self) -> None:  # noqa: N802
        if urlsplit(self.path).path == "/state":
            self.reply_json(200, self.state.snapshot())
        else:
            self.reply_json(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        mode = url.path.removeprefix("/fault/")
        if not url.path.startswith("/fault/") or mode not in MODES:
            self.reply_json(404, {"error": f"unknown fault; modes: {', '.join(MODES)}"})
            return
        try:
            fault = parse_fault(mode, parse_qs(url.query))
        except ValueError as err:
            self.reply_json(400, {"error": str(err)})
            return
        self.state.set_fault(fault)
        self.reply_json(200, self.state.snapshot())
        if mode == "die":
            self.wfile.flush()
            os._exit(1)  # at once: no cleanup, like a crash


def parse_fault(mode: str, query: dict[str, list[str]]) -> Fault:
    """Build a Fault from ``?seconds=N&sticky=1``; ValueError on bad input."""
    seconds = None
    if "seconds" in query:
        seconds = float(query["seconds"][0])
        if not 0 <= seconds <= HANG_LIMIT:
            raise ValueError(f"seconds must be between 0 and {HANG_LIMIT:g}")
    sticky = query.get("sticky", ["0"])[0].lower() in ("1", "true", "yes")
    return Fault(mode, seconds, sticky)


def make_server(port: int, handler: type[BaseHTTPRequestHandler], state: AppState) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((LOOPBACK, port), handler)
    server.daemon_threads = True  # hung request threads never keep the process alive
    server.app_state = state  # type: ignore[attr-defined]
    return server


def serve(port: int, control_port: int, state: AppState) -> None:
    """Run both servers until the process is terminated."""
    if state.fault.mode == "die":
        print(f"{state.name}: sticky fault 'die': exiting at start", file=sys.stderr)
        os._exit(1)
    app = make_server(port, AppHandler, state)
    control = make_server(control_port, ControlHandler, state)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    print(f"{state.name} ready: app {port}, control {control_port}, {state.fault}")
    sys.stdout.flush()
    control.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--color", default="")
    parser.add_argument("--version", default="", help="sent as X-App-Version and in /healthz")
    parser.add_argument("--state-file", type=Path)
    args = parser.parse_args(argv)
    serve(args.port, args.control_port, AppState(args.name, args.color, args.state_file, args.version))


if __name__ == "__main__":
    main()
