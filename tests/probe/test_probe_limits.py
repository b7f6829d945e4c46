"""What a hostile or unlucky peer cannot do to the probe: grow its memory, stall its cycle on
DNS, or fail a check because a pooled keep-alive connection went stale."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
import tracemalloc
import zlib

import pytest

from chalicelib.config.model import Expect, Monitor
from chalicelib.probe import ProbeEngine, loop
from chalicelib.probe.checks.tls import ssl_context
from tests.probe.conftest import make_certificate, read_request

pytestmark = pytest.mark.timeout(30)
MEMORY_BOUND = 8 << 20  # bytes: the 1 MiB cap, read buffers and copies; never the whole body


def far() -> float:
    return time.monotonic() + 10


def monitor(url: str, **fields) -> Monitor:
    fields.setdefault("retries", 0)
    fields.setdefault("timeout", 2.0)
    return Monitor(name="web", url=url, **fields)


def peak_bytes_during(action):
    """(action's result, peak bytes Python allocated meanwhile, on every thread)."""
    tracemalloc.start()
    try:
        result = action()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


class Sent:
    """Counts what a streaming server managed to send before the client hung up."""

    def __init__(self) -> None:
        self.bytes = 0


def huge_redirect(sent: Sent, size: int = 400 * 10**6):
    def serve(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: {size}\r\n\r\n".encode())
        block = b"x" * 65536
        while sent.bytes < size:
            conn.sendall(block)  # raises once the probe closes the connection
            sent.bytes += len(block)

    return serve


def test_a_400_mb_redirect_body_is_read_only_up_to_the_cap(engine, socket_server):
    sent = Sent()
    server = socket_server(huge_redirect(sent))
    m = monitor(f"http://127.0.0.1:{server.port}/old", expect=Expect(body_contains="needle"))
    result, peak = peak_bytes_during(lambda: engine.check(m, far()))
    assert result.reason == "status 302, expected 2xx"
    assert peak < MEMORY_BOUND, peak
    time.sleep(0.2)  # the server notices the closed connection
    assert sent.bytes < 50 << 20  # the cap stopped reading; socket buffers took the rest


def gzip_bomb(expanded: int = 100 * 10**6) -> bytes:
    """About 0.2 MB that a client decoding it would grow to `expanded` bytes of 'status ok'."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    text = b"status ok " * 10**5
    return b"".join(packer.compress(text) for _ in range(expanded // len(text))) + packer.flush()


def test_a_gzip_bomb_in_a_chunked_302_is_never_decoded(engine, socket_server):
    bomb = gzip_bomb()

    def serve(conn: socket.socket) -> None:
        request = read_request(conn).lower()
        assert b"accept-encoding: identity" in request
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Encoding: gzip\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for at in range(0, len(bomb), 8192):
            piece = bomb[at : at + 8192]
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.sendall(b"0\r\n\r\n")
        read_request(conn)

    server = socket_server(serve)
    m = monitor(f"http://127.0.0.1:{server.port}/", expect=Expect(status=(302,), body_contains="status ok"))
    result, peak = peak_bytes_during(lambda: engine.check(m, far()))
    assert result.reason.startswith("body does not contain")  # the 302 passed; the text stayed packed
    assert peak < MEMORY_BOUND, peak


def test_chunked_and_close_delimited_bodies_are_read_whole(engine, socket_server):
    def chunked(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"sta\r\n')
        conn.sendall(b'B\r\ntus": "ok"}\r\n0\r\n\r\n')
        read_request(conn)

    def until_close(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"status": ')
        conn.sendall(b'"ok"}')
        conn.close()

    expect = Expect(json={"status": "ok"})
    for serve in (chunked, until_close):
        server = socket_server(serve)
        result = engine.check(monitor(f"http://127.0.0.1:{server.port}/", expect=expect), far())
        assert result.ok, (serve.__name__, result.reason)


def test_a_hanging_dns_lookup_costs_one_attempt_not_the_cycle(monkeypatch, httpserver):
    httpserver.expect_request("/ok").respond_with_data("ok")
    probe_loop = loop.event_loop()
    resolve = probe_loop.getaddrinfo
    release = threading.Event()
    lookups: list[str] = []

    async def stuck_resolver(host, port, **kwargs):
        lookups.append(host)
        if host == "stuck.autoheal-probe-test.invalid":
            # A resolver thread that never answers, as getaddrinfo does when DNS is black-holed.
            await probe_loop.run_in_executor(None, release.wait, 10)
        return await resolve(host, port, **kwargs)

    monkeypatch.setattr(probe_loop, "getaddrinfo", stuck_resolver)
    monitors = [
        Monitor(name=f"stuck{i}", url=f"http://stuck.autoheal-probe-test.invalid/{i}", timeout=0.5, retries=0)
        for i in range(3)
    ] + [Monitor(name="ok", url=httpserver.url_for("/ok"), retries=0)]
    try:
        start = time.monotonic()
        results = ProbeEngine(workers=8).run(monitors, far())
        elapsed = time.monotonic() - start
    finally:
        release.set()
    assert [r.reason for r in results[:3]] == ["timeout after 500ms"] * 3
    assert results[3].ok
    assert elapsed < 0.5 + 0.3
    assert lookups.count("stuck.autoheal-probe-test.invalid") == 1  # once per cycle, shared


def test_a_pooled_connection_the_server_dropped_is_retried_on_a_fresh_one(socket_server):
    def answers_once_then_drops(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        read_request(conn)  # the next request on this connection: closed unanswered
        conn.close()

    server = socket_server(answers_once_then_drops)
    engine = ProbeEngine(workers=2)
    m = monitor(f"http://127.0.0.1:{server.port}/healthz")
    assert engine.check(m, far()).ok
    assert engine.pool.idle_count() == 1
    second = engine.check(m, far())
    assert second.ok, second.reason
    assert second.attempts == 1  # the retry on a fresh connection is part of the same attempt
    assert server.connections == 2


def test_a_pooled_connection_closed_while_idle_is_not_used(socket_server):
    def answers_and_closes(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        conn.close()  # without saying Connection: close, as a server timing out idle ones does

    server = socket_server(answers_and_closes)
    engine = ProbeEngine(workers=2)
    m = monitor(f"http://127.0.0.1:{server.port}/healthz")
    for _ in range(3):
        result = engine.check(m, far())
        assert result.ok, result.reason
    assert server.connections == 3


def test_the_certificate_is_read_from_the_connection_that_made_the_request(socket_server, tmp_path):
    cert, key = make_certificate(tmp_path, datetime.timedelta(days=3, hours=2))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def serve(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            while read_request(tls):
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server = socket_server(serve)
    engine = ProbeEngine(workers=2)
    expect = Expect(certificate_valid_for=14 * 86400.0)
    m = monitor(f"https://127.0.0.1:{server.port}/", ca_bundle=str(cert), expect=expect)
    for _ in range(2):  # the second rides the pooled connection and still knows the expiry
        assert engine.check(m, far()).reason == "certificate expires in 3d, expected at least 14d"
    assert server.connections == 1  # one handshake in all


def test_ssl_contexts_are_built_once_per_verification_setting(tmp_path):
    cert, _ = make_certificate(tmp_path, datetime.timedelta(days=1))
    assert ssl_context(True, None) is ssl_context(True, None)
    assert ssl_context(True, str(cert)) is not ssl_context(True, None)
    assert ssl_context(False, None).verify_mode == ssl.CERT_NONE
