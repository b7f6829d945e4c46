"""The websocket kind against tiny real upgrade servers."""

from __future__ import annotations

import datetime
import time

import pytest

from chalicelib.config.model import Monitor
from tests.probe.conftest import hang, websocket_server

pytestmark = pytest.mark.timeout(20)


def far() -> float:
    return time.monotonic() + 10


def monitor(url: str, **fields) -> Monitor:
    fields.setdefault("timeout", 1.0)
    return Monitor(name="ws", url=url, kind="websocket", retries=0, **fields)


def test_upgrade_answered_with_101(engine, socket_server):
    server = socket_server(websocket_server())
    result = engine.check(monitor(f"ws://127.0.0.1:{server.port}/ws"), far())
    assert result.ok, result.reason
    assert result.latency_ms is not None


def test_socket_io_url_works_the_same(engine, socket_server):
    server = socket_server(websocket_server())
    url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"
    assert engine.check(monitor(url), far()).ok


def test_answer_200_instead_of_upgrade(engine, socket_server):
    server = socket_server(websocket_server(status=200))
    result = engine.check(monitor(f"ws://127.0.0.1:{server.port}/ws"), far())
    assert not result.ok
    assert result.reason == "status 200, expected 101"


def test_wrong_accept_key(engine, socket_server):
    server = socket_server(websocket_server(good_key=False))
    result = engine.check(monitor(f"ws://127.0.0.1:{server.port}/ws"), far())
    assert not result.ok
    assert result.reason.startswith("websocket: invalid upgrade answer")


def test_hanging_upgrade_times_out(engine, socket_server):
    server = socket_server(hang)
    start = time.monotonic()
    result = engine.check(monitor(f"ws://127.0.0.1:{server.port}/ws", timeout=0.4), far())
    assert result.reason == "timeout after 400ms"
    assert time.monotonic() - start < 0.4 + 0.5


def test_refused(engine, free_port):
    result = engine.check(monitor(f"ws://127.0.0.1:{free_port}/ws"), far())
    assert result.reason == "connection refused"


def test_unresolvable_host(engine):
    result = engine.check(monitor("ws://ws.autoheal-probe-test.invalid/socket.io/"), far())
    assert result.reason == "dns: host not found: ws.autoheal-probe-test.invalid"


def test_wss_with_untrusted_certificate(engine, tls_server):
    server = tls_server(datetime.timedelta(days=30))
    result = engine.check(monitor(f"wss://127.0.0.1:{server.port}/ws"), far())
    assert result.reason == "tls: certificate verify failed: self-signed certificate"


def test_wss_trusted_but_not_a_websocket(engine, tls_server):
    server = tls_server(datetime.timedelta(days=30))
    m = monitor(f"wss://127.0.0.1:{server.port}/ws", ca_bundle=str(server.cert_path))
    assert engine.check(m, far()).reason == "status 200, expected 101"
