"""The local world of tests/runbooks (moto, a health server, instances, the app), with three
vantage points in front of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from chalicelib.vantage import regional
from sandbox.vantage_world import InvokeApi
from tests.runbooks.conftest import (  # noqa: F401 - fixtures, shared
    aws,
    forget_wiring,
    health,
    health_server,
    make_world,
)


class KnownGood(BaseHTTPRequestHandler):
    """What a region's self-check probes: always there."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def known_good() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), KnownGood)
    server.daemon_threads = True
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ok"
    server.shutdown()
    server.server_close()


@pytest.fixture
def invoke_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[InvokeApi]:
    api = InvokeApi()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", api.url)
    regional.reset()
    yield api
    api.settle()
    api.close()
    regional.reset()


@pytest.fixture
def cleanup() -> Iterator[Callable]:
    """cleanup(proxy, ...) stops them at the end of the test."""
    held: list = []
    yield held.extend
    for proxy in held:
        proxy.stop()
