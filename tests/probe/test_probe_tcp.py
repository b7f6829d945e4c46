"""The tcp kind."""

from __future__ import annotations

import time

from chalicelib.config.model import Monitor
from tests.probe.conftest import hang


def far() -> float:
    return time.monotonic() + 10


def monitor(url: str) -> Monitor:
    return Monitor(name="db", url=url, kind="tcp", timeout=1.0, retries=0)


def test_port_accepts(engine, socket_server):
    server = socket_server(hang)
    result = engine.check(monitor(f"tcp://127.0.0.1:{server.port}"), far())
    assert result.ok, result.reason
    assert result.latency_ms is not None


def test_port_refuses(engine, free_port):
    result = engine.check(monitor(f"tcp://127.0.0.1:{free_port}"), far())
    assert result.reason == "connection refused"


def test_unresolvable_host(engine):
    result = engine.check(monitor("tcp://db.autoheal-probe-test.invalid:5432"), far())
    assert result.reason == "dns: host not found: db.autoheal-probe-test.invalid"


def test_url_without_port(engine):
    assert engine.check(monitor("tcp://127.0.0.1"), far()).reason.startswith("tcp: url needs a port")
