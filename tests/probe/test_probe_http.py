"""The http kind against real servers on 127.0.0.1."""

from __future__ import annotations

import time

import pytest
from werkzeug import Request, Response

from chalicelib.config.model import Expect, Monitor
from chalicelib.probe import ProbeEngine
from chalicelib.probe.checks.http import BODY_CAP
from tests.probe.conftest import hang, read_request, trickle, trickle_headers

pytestmark = pytest.mark.timeout(20)


def far() -> float:
    return time.monotonic() + 10


def monitor(url: str, **fields) -> Monitor:
    fields.setdefault("retries", 0)
    fields.setdefault("timeout", 1.0)
    return Monitor(name="web", url=url, **fields)


def test_healthy(engine, httpserver):
    httpserver.expect_request("/healthz").respond_with_json({"status": "ok"})
    expect = Expect(status=(200,), json={"status": "ok"}, body_contains="ok")
    result = engine.check(monitor(httpserver.url_for("/healthz"), expect=expect), far())
    assert result.ok, result.reason
    assert result.reason is None
    assert result.attempts == 1
    assert 0 < result.latency_ms < 1000
    assert abs(result.checked_at - time.time()) < 5


def test_slow_answer_exceeds_max_response_time(engine, httpserver):
    def slow(request: Request) -> Response:
        time.sleep(0.3)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    expect = Expect(max_response_time=0.1)
    result = engine.check(monitor(httpserver.url_for("/slow"), expect=expect), far())
    assert not result.ok
    assert result.reason.startswith("response time 3")
    assert result.reason.endswith("expected at most 100ms")
    assert result.latency_ms >= 300


def test_hanging_server_times_out_within_the_budget(engine, socket_server):
    server = socket_server(hang)
    m = monitor(f"http://127.0.0.1:{server.port}/", timeout=0.4, retries=1)
    start = time.monotonic()
    result = engine.check(m, far())
    elapsed = time.monotonic() - start
    assert not result.ok
    assert result.reason == "timeout after 400ms"
    assert result.latency_ms is None
    assert result.attempts == 2
    assert elapsed < 0.4 * 2 + 0.2 + 1.0  # two attempts, one backoff


@pytest.mark.parametrize("serve", [trickle, trickle_headers], ids=["body", "headers"])
def test_trickling_server_cannot_outlive_the_timeout(engine, socket_server, serve):
    server = socket_server(serve)
    start = time.monotonic()
    result = engine.check(monitor(f"http://127.0.0.1:{server.port}/", timeout=0.5), far())
    elapsed = time.monotonic() - start
    assert result.reason == "timeout after 500ms"
    assert elapsed < 0.5 + 0.3


def test_server_error(engine, httpserver):
    httpserver.expect_request("/healthz").respond_with_data("boom", status=500)
    result = engine.check(monitor(httpserver.url_for("/healthz")), far())
    assert not result.ok
    assert result.reason == "status 500, expected 2xx"
    assert result.latency_ms is not None  # it answered


def test_status_not_in_the_expected_list(engine, httpserver):
    httpserver.expect_request("/healthz").respond_with_data("", status=204)
    m = monitor(httpserver.url_for("/healthz"), expect=Expect(status=(200,)))
    assert engine.check(m, far()).reason == "status 204, expected [200]"


def test_wrong_json(engine, httpserver):
    httpserver.expect_request("/healthz").respond_with_json(
        {"status": "ok", "checks": {"db": {"status": "degraded"}}}
    )
    expect = Expect(json={"status": "ok", "checks.db.status": "ok"})
    result = engine.check(monitor(httpserver.url_for("/healthz"), expect=expect), far())
    assert not result.ok
    assert result.reason == "json checks.db.status: 'degraded' != 'ok'"


def test_json_path_missing(engine, httpserver):
    httpserver.expect_request("/healthz").respond_with_json({"status": "ok"})
    expect = Expect(json={"checks.db.status": "ok"})
    result = engine.check(monitor(httpserver.url_for("/healthz"), expect=expect), far())
    assert result.reason == "json checks.db.status: missing"


def test_body_that_is_not_json(engine, httpserver):
    httpserver.expect_request("/healthz").respond_with_data("<h1>Bad gateway</h1>")
    expect = Expect(json={"status": "ok"})
    result = engine.check(monitor(httpserver.url_for("/healthz"), expect=expect), far())
    assert result.reason == "json: body is not JSON"


def test_body_contains(engine, httpserver):
    httpserver.expect_request("/healthz").respond_with_data("status: degraded")
    m = monitor(httpserver.url_for("/healthz"), expect=Expect(body_contains="status: ok"))
    assert engine.check(m, far()).reason == "body does not contain 'status: ok'"


def test_body_is_capped_at_one_mebibyte(engine, httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * (BODY_CAP + 4096) + b"needle")
    m = monitor(httpserver.url_for("/big"), expect=Expect(body_contains="needle"))
    result = engine.check(m, far())
    assert result.reason == "body does not contain 'needle'"  # past the cap: never read
    m = monitor(httpserver.url_for("/big"), expect=Expect(json={"a": 1}))
    assert engine.check(m, far()).reason == "json: body too large to parse"


def test_redirect_is_an_answer_not_followed(engine, httpserver):
    httpserver.expect_request("/old").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/healthz")}
    )
    httpserver.expect_request("/healthz").respond_with_data("ok")
    result = engine.check(monitor(httpserver.url_for("/old")), far())
    assert result.reason == "status 302, expected 2xx"
    m = monitor(httpserver.url_for("/old"), expect=Expect(status=(302,)))
    assert engine.check(m, far()).ok


def test_method_and_headers_are_sent_but_never_reported(engine, httpserver):
    secret = "Bearer s3cr3t-token"
    httpserver.expect_request("/healthz", method="HEAD", headers={"Authorization": secret}).respond_with_data(
        "", status=503
    )
    m = monitor(httpserver.url_for("/healthz"), method="HEAD", headers={"Authorization": secret})
    result = engine.check(m, far())
    assert result.reason == "status 503, expected 2xx"  # 503 only if the header matched
    assert "s3cr3t" not in repr(result)


def test_connection_refused(engine, free_port):
    result = engine.check(monitor(f"http://127.0.0.1:{free_port}/healthz"), far())
    assert result.reason == "connection refused"
    assert result.latency_ms is None


def test_unresolvable_host(engine):
    result = engine.check(monitor("http://autoheal-probe-test.invalid/healthz"), far())
    assert not result.ok
    assert result.reason == "dns: host not found: autoheal-probe-test.invalid"


def keep_alive(conn) -> None:
    """Answers every request on the connection, HTTP/1.1 keep-alive."""
    while read_request(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def test_pooled_connection_is_reused_across_checks(socket_server):
    engine = ProbeEngine(workers=2)
    server = socket_server(keep_alive)
    m = monitor(f"http://127.0.0.1:{server.port}/healthz")
    for _ in range(3):
        assert engine.check(m, far()).ok
    assert server.connections == 1  # one connection served all three
