"""https: verification against a CA bundle and the certificate_valid_for condition."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import threading
import time

import pytest
from cryptography import x509

from chalicelib.config.model import Expect, Monitor
from chalicelib.probe import ProbeEngine, loop
from chalicelib.probe.checks.tls import der_not_after, ssl_context
from chalicelib.probe.connections import Cycle, Pool
from chalicelib.probe.http1 import ResponseParser
from tests.probe.conftest import make_certificate, read_request

pytestmark = pytest.mark.timeout(20)
DAY = 86400.0


def far() -> float:
    return time.monotonic() + 10


def monitor(url: str, **fields) -> Monitor:
    return Monitor(name="web", url=url, timeout=2.0, retries=0, **fields)


def test_self_signed_certificate_fails_verification_without_its_bundle(engine, tls_server):
    server = tls_server(datetime.timedelta(days=90))
    result = engine.check(monitor(server.url), far())
    assert not result.ok
    assert result.reason == "tls: certificate verify failed: self-signed certificate"


def test_certificate_expiring_soon(engine, tls_server):
    server = tls_server(datetime.timedelta(days=3, hours=2))
    expect = Expect(json={"status": "ok"}, certificate_valid_for=14 * DAY)
    result = engine.check(monitor(server.url, ca_bundle=str(server.cert_path), expect=expect), far())
    assert not result.ok
    assert result.reason == "certificate expires in 3d, expected at least 14d"
    assert result.latency_ms is not None


def test_certificate_valid_for_long_passes(engine, tls_server):
    server = tls_server(datetime.timedelta(days=365))
    expect = Expect(json={"status": "ok"}, certificate_valid_for=14 * DAY)
    result = engine.check(monitor(server.url, ca_bundle=str(server.cert_path), expect=expect), far())
    assert result.ok, result.reason


def test_without_verification_the_expiry_is_still_read(engine, tls_server):
    server = tls_server(datetime.timedelta(days=5, hours=1))
    expect = Expect(certificate_valid_for=7 * DAY)
    result = engine.check(monitor(server.url, verify_tls=False, expect=expect), far())
    assert result.reason == "certificate expires in 5d, expected at least 7d"


def test_der_walk_agrees_with_cryptography(tls_server):
    server = tls_server(datetime.timedelta(days=42))
    pem = server.cert_path.read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    der = ssl.PEM_cert_to_DER_cert(pem.decode())
    assert der_not_after(der) == cert.not_valid_after_utc.replace(microsecond=0).timestamp()


def test_plain_http_port_speaking_to_https_client(engine, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    url = httpserver.url_for("/").replace("http://", "https://")
    result = engine.check(monitor(url), far())
    assert result.reason.startswith("tls: ")


def test_a_handshake_never_answered_costs_one_timeout_and_the_socket_is_closed(engine, socket_server):
    closed = threading.Event()

    def silent(conn: socket.socket) -> None:
        conn.settimeout(5)
        while conn.recv(4096):  # the ClientHello, then nothing until the probe gives up
            pass
        closed.set()

    server = socket_server(silent)
    start = time.monotonic()
    result = engine.check(
        Monitor(name="web", url=f"https://127.0.0.1:{server.port}/", timeout=0.3, retries=0), far()
    )
    assert result.reason == "timeout after 300ms"
    assert time.monotonic() - start < 0.3 + 0.3
    assert closed.wait(2), "the probe left the half-open TLS connection behind"


def _connect_twice(cycle, host: str, port: int, context: ssl.SSLContext) -> list[bool]:
    """Two connections one after the other on `cycle`, each after the last one's answer."""

    async def run() -> list[bool]:
        reused = []
        for _ in range(2):
            conn = await cycle.connect(host, port, context)
            await conn.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", ResponseParser(1024))
            reused.append(conn.tls.ssl_object.session_reused)
            conn.close()
        return reused

    return loop.submit(run()).result(timeout=10)


def test_a_cycle_resumes_the_tls_session_it_verified_and_the_next_cycle_verifies_again(tls_server):
    server = tls_server(datetime.timedelta(days=90))
    context = ssl_context(True, str(server.cert_path))
    pool = Pool()
    assert _connect_twice(Cycle(pool), "127.0.0.1", server.port, context) == [False, True]
    assert _connect_twice(Cycle(pool), "127.0.0.1", server.port, context) == [False, True]


def test_a_resumed_connection_still_reports_the_certificate_expiry(tls_server):
    server = tls_server(datetime.timedelta(days=3, hours=2))
    expect = Expect(json={"status": "ok"}, certificate_valid_for=14 * DAY)
    monitors = [
        Monitor(
            name=f"web{i}",
            url=server.url,
            timeout=2.0,
            retries=0,
            ca_bundle=str(server.cert_path),
            expect=expect,
        )
        for i in range(3)
    ]
    results = ProbeEngine(workers=1).run(monitors, far())  # one at a time: the 2nd and 3rd resume
    assert [r.reason for r in results] == ["certificate expires in 3d, expected at least 14d"] * 3


def _tls_answering(context: ssl.SSLContext, after: float = 0.0):
    def serve(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            read_request(tls)
            time.sleep(after)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            time.sleep(0.5)

    return serve


def _connect_at_once(port: int, context: ssl.SSLContext, count: int) -> list[tuple[bool, float]]:
    """`count` connections started together on a fresh cycle: (resumed, seconds to connect)."""

    async def one(cycle: Cycle) -> tuple[bool, float]:
        start = time.monotonic()
        conn = await cycle.connect("127.0.0.1", port, context)
        took = time.monotonic() - start
        await conn.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", ResponseParser(1024))
        conn.close()
        return conn.tls.ssl_object.session_reused, took

    async def run() -> list[tuple[bool, float]]:
        cycle = Cycle(Pool())
        return list(await asyncio.gather(*(one(cycle) for _ in range(count))))

    return loop.submit(run()).result(timeout=10)


def _server_context(tmp_path, tickets: int) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = make_certificate(tmp_path, datetime.timedelta(days=90))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    server.num_tickets = tickets
    return server, ssl_context(True, str(cert))


def test_connections_started_together_make_one_full_handshake_and_resume_it(socket_server, tmp_path):
    server, client = _server_context(tmp_path, tickets=2)
    found = _connect_at_once(socket_server(_tls_answering(server)).port, client, 4)
    assert sorted(resumed for resumed, _ in found) == [False, True, True, True]


def test_without_tickets_the_others_wait_about_one_handshake_and_make_their_own(socket_server, tmp_path):
    server, client = _server_context(tmp_path, tickets=0)
    found = _connect_at_once(socket_server(_tls_answering(server, after=0.6)).port, client, 3)
    assert [resumed for resumed, _ in found] == [False, False, False]
    assert max(took for _, took in found) < 0.4  # not held until the first one's answer at 0.6 s
