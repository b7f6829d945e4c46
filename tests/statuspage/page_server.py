"""A small HTTP server on 127.0.0.1 whose answers a test changes while a browser polls it.

It stands for the status bucket (pages, status.json) or for the app (health endpoints), and
gzips text when asked, as S3 behind CloudFront or the app's proxy would, so the bytes a
browser transfers are the real figure.
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)


class PageServer:
    def __init__(self, cors: bool = False) -> None:
        self.answers: dict[str, Answer] = {}
        self.hits: dict[str, int] = {}
        self.cors = cors
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.serve(self)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.origin + path

    def set(
        self, path: str, status: int = 200, body: str | bytes = b"", content_type: str = "text/plain"
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self.answers[path] = Answer(status, data, content_type)

    def serve(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            answer = self.answers.get(path, Answer(404, b"not found"))
        body = answer.body
        request.send_response(answer.status)
        request.send_header("Content-Type", answer.content_type)
        request.send_header("Cache-Control", "no-store")
        if self.cors:
            request.send_header("Access-Control-Allow-Origin", "*")
        if "gzip" in request.headers.get("Accept-Encoding", "") and len(body) > 256:
            body = gzip.compress(body)
            request.send_header("Content-Encoding", "gzip")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
