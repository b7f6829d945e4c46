"""The fault proxy in front of a real HTTP server: passes, drops, hangs, and lets go."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from sandbox.fault_proxy import FaultProxy
from sandbox.loopback import Quiet, serve


class Ok(Quiet):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    server = serve(Ok)
    with FaultProxy(("127.0.0.1", server.server_address[1])) as proxy:
        yield proxy
    server.shutdown()
    server.server_close()


def get(url: str, timeout: float = 1.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read()


def test_pass_forwards_the_answer(proxy: FaultProxy) -> None:
    assert get(proxy.url("/healthz")) == b'{"status": "ok"}'


def test_hang_answers_nothing_until_told_to_pass(proxy: FaultProxy) -> None:
    proxy.mode = "hang"
    began = time.monotonic()
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        get(proxy.url("/healthz"), timeout=0.5)
    assert 0.5 <= time.monotonic() - began < 2.0
    proxy.mode = "pass"
    assert get(proxy.url("/healthz")) == b'{"status": "ok"}'
    assert proxy.connections == 2


def test_drop_resets_at_once(proxy: FaultProxy) -> None:
    proxy.mode = "drop"
    began = time.monotonic()
    with pytest.raises((ConnectionError, urllib.error.URLError, OSError)):
        get(proxy.url("/healthz"), timeout=2.0)
    assert time.monotonic() - began < 1.0


def test_an_unknown_mode_is_refused(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="expected one of pass, drop, hang"):
        proxy.mode = "slow"
