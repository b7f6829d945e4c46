"""A stand-in chat service: receives Slack-shaped webhook posts on 127.0.0.1 and keeps them."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox.ports import LOOPBACK


class ChatReceiver:
    """>>> with ChatReceiver() as chat: post(chat.url, {...}); chat.messages  # doctest: +SKIP"""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    receiver.messages.append(json.loads(self.rfile.read(length) or b"{}"))
                except ValueError:
                    receiver.messages.append({"invalid": True})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self.server.server_port}/services/T000/B000/demo"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ChatReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
