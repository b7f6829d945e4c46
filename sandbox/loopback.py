"""A small HTTP server on loopback, serving in a daemon thread: the stand-ins tests, benches and
the local world start (a known-good target, an app that can hang, a local Invoke API).

>>> server = serve(Quiet)      # doctest: +SKIP
>>> url_of(server)             # doctest: +SKIP
'http://127.0.0.1:40123'
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Quiet(BaseHTTPRequestHandler):
    """A handler that keeps its request log out of the timeline and the test output."""

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """Started on a free port; `shutdown()` and `server_close()` stop it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def url_of(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"
