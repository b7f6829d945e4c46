"""ProbeEngine: concurrency, retries, order and the cycle's deadline."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import pytest
from werkzeug import Request, Response

from chalicelib.config.model import Monitor
from chalicelib.probe import ProbeEngine
from chalicelib.probe.engine import BACKOFF, GRACE, SKIPPED, STUCK
from tests.probe.conftest import hang, read_request

pytestmark = pytest.mark.timeout(20)


def far() -> float:
    return time.monotonic() + 10


def test_a_retry_that_succeeds_makes_the_monitor_ok(engine, httpserver):
    httpserver.expect_ordered_request("/flaky").respond_with_data("no", status=502)
    httpserver.expect_ordered_request("/flaky").respond_with_data("ok")
    m = Monitor(name="web", url=httpserver.url_for("/flaky"), timeout=1.0, retries=2)
    start = time.monotonic()
    result = engine.check(m, far())
    assert result.ok, result.reason
    assert result.attempts == 2
    assert result.reason is None
    assert time.monotonic() - start >= BACKOFF  # waited before retrying
    assert len(httpserver.log) == 2


def test_every_attempt_failing_keeps_the_last_reason(engine, httpserver):
    httpserver.expect_request("/down").respond_with_data("no", status=503)
    m = Monitor(name="web", url=httpserver.url_for("/down"), timeout=1.0, retries=2)
    result = engine.check(m, far())
    assert not result.ok
    assert result.attempts == 3
    assert result.reason == "status 503, expected 2xx"


def test_no_retry_when_it_cannot_fit_before_the_deadline(engine, socket_server):
    server = socket_server(hang)
    m = Monitor(name="web", url=f"http://127.0.0.1:{server.port}/", timeout=0.3, retries=3)
    result = engine.check(m, time.monotonic() + 0.5)
    assert result.attempts == 1
    assert not result.skipped
    assert result.reason == "timeout after 300ms"


def test_no_time_at_all_is_skipped_not_down(engine, httpserver):
    m = Monitor(name="web", url=httpserver.url_for("/never"))
    result = engine.check(m, time.monotonic() - 1)
    assert result.skipped
    assert result.attempts == 0
    assert result.as_dict() == {"status": "skipped", "latency_ms": None, "reason": SKIPPED}
    assert len(httpserver.log) == 0


def test_results_keep_the_order_of_the_monitors(engine, httpserver, free_port):
    def slow(request: Request) -> Response:
        time.sleep(0.2)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    httpserver.expect_request("/fast").respond_with_data("ok")
    monitors = [
        Monitor(name="slow", url=httpserver.url_for("/slow"), retries=0),
        Monitor(name="refused", url=f"http://127.0.0.1:{free_port}/", retries=0),
        Monitor(name="dns", url="http://nowhere.autoheal-probe-test.invalid/", retries=0),
        Monitor(name="fast", url=httpserver.url_for("/fast"), retries=0),
    ]
    results = engine.run(monitors, far())
    assert [r.monitor for r in results] == ["slow", "refused", "dns", "fast"]
    assert [r.as_dict()["status"] for r in results] == ["up", "down", "down", "up"]
    assert results[2].reason == "dns: host not found: nowhere.autoheal-probe-test.invalid"


def test_many_hanging_monitors_return_by_the_deadline(socket_server):
    server = socket_server(hang)
    engine = ProbeEngine(workers=4)
    monitors = [
        Monitor(name=f"m{i}", url=f"http://127.0.0.1:{server.port}/{i}", timeout=2.0, retries=1)
        for i in range(20)
    ]
    start = time.monotonic()
    results = engine.run(monitors, deadline=start + 0.6)
    elapsed = time.monotonic() - start
    assert elapsed < 0.6 + 0.3
    assert len(results) == 20
    ran = [r for r in results if not r.skipped]
    skipped = [r for r in results if r.skipped]
    assert len(ran) == 4  # one per worker; the others never got a turn
    assert all(
        r.reason.startswith("timeout after 5") or r.reason.startswith("timeout after 6") for r in ran
    ), [r.reason for r in ran]
    assert all(r.reason == SKIPPED and r.attempts == 0 for r in skipped)


def test_concurrent_checks_overlap(socket_server):
    server = socket_server(hang)
    engine = ProbeEngine(workers=10)
    monitors = [
        Monitor(name=f"m{i}", url=f"http://127.0.0.1:{server.port}/", timeout=0.4, retries=0)
        for i in range(10)
    ]
    start = time.monotonic()
    results = engine.run(monitors, far())
    assert time.monotonic() - start < 0.4 + 0.4  # not 10 x 0.4s
    assert all(r.reason == "timeout after 400ms" for r in results)


def test_the_slowest_monitor_of_the_last_run_starts_first(httpserver):
    def slow(request: Request) -> Response:
        time.sleep(0.2)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    httpserver.expect_request("/fast").respond_with_data("ok")
    engine = ProbeEngine(workers=1)
    monitors = [
        Monitor(name="a", url=httpserver.url_for("/fast")),
        Monitor(name="b", url=httpserver.url_for("/fast")),
        Monitor(name="c", url=httpserver.url_for("/slow")),
    ]
    engine.run(monitors, far())
    assert [entry[0].path for entry in httpserver.log] == ["/fast", "/fast", "/slow"]  # config order
    httpserver.clear_log()
    results = engine.run(monitors, far())
    assert [entry[0].path for entry in httpserver.log] == ["/slow", "/fast", "/fast"]
    assert [r.monitor for r in results] == ["a", "b", "c"]  # results still in config order


def test_a_fresh_engine_seeded_with_what_was_failing_starts_it_first(httpserver):
    httpserver.expect_request("/a").respond_with_data("ok")
    httpserver.expect_request("/b").respond_with_data("no", status=500)
    monitors = [Monitor(name=n, url=httpserver.url_for(f"/{n}"), retries=0) for n in ("a", "b")]
    engine = ProbeEngine(workers=1)
    engine.prefer(monitors, failing=["b"])
    engine.run(monitors, far())
    assert [entry[0].path for entry in httpserver.log] == ["/b", "/a"]


def test_skipped_monitors_keep_their_turn(socket_server, httpserver):
    httpserver.expect_request("/fast").respond_with_data("ok")
    server = socket_server(hang)
    engine = ProbeEngine(workers=1)
    monitors = [
        Monitor(name="hang", url=f"http://127.0.0.1:{server.port}/", timeout=0.3, retries=0),
        Monitor(name="late", url=httpserver.url_for("/fast")),
    ]
    first = engine.run(monitors, time.monotonic() + 0.32)
    assert [r.skipped for r in first] == [False, True]
    second = engine.run(monitors, far())
    assert second[1].ok
    assert second[1].checked_at < second[0].checked_at  # one worker: it went first this time


class _Stubborn:
    """A check that swallows its cancellation, the worst a check could do to the loop."""

    async def attempt(self, monitor, cycle):
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(end - time.monotonic())
        raise AssertionError("never reported")


def test_run_returns_by_the_deadline_even_if_a_check_never_does():
    engine = ProbeEngine(workers=2)
    engine._checks["stubborn"] = _Stubborn()
    monitors = [Monitor(name=f"s{i}", url="x://", kind="stubborn") for i in range(3)]
    start = time.monotonic()
    results = engine.run(monitors, deadline=start + 0.3)
    assert time.monotonic() - start < 0.3 + GRACE + 0.1
    assert [r.reason for r in results] == [STUCK, STUCK, SKIPPED]
    assert [r.as_dict()["status"] for r in results] == ["down", "down", "skipped"]


def test_unknown_kind_is_down_with_a_reason(engine):
    m = Monitor(name="x", url="gopher://127.0.0.1/", kind="gopher")
    result = engine.check(m, far())
    assert not result.ok and result.reason == "unknown kind 'gopher'"


def test_empty_run(engine):
    assert engine.run([], far()) == []


def test_workers_must_be_positive():
    with pytest.raises(ValueError):
        ProbeEngine(workers=0)


def test_quick_monitors_go_before_middling_ones_and_after_the_long(httpserver, socket_server):
    def middling(request: Request) -> Response:
        time.sleep(0.3)
        return Response("ok")

    httpserver.expect_request("/middling").respond_with_handler(middling)
    httpserver.expect_request("/quick").respond_with_data("ok")
    server = socket_server(hang)
    engine = ProbeEngine(workers=1)
    monitors = [
        Monitor(name="middling", url=httpserver.url_for("/middling"), timeout=1.0, retries=0),
        Monitor(name="quick", url=httpserver.url_for("/quick"), timeout=1.0, retries=0),
        Monitor(name="long", url=f"http://127.0.0.1:{server.port}/", timeout=0.3, retries=0),
    ]
    engine.run(monitors, far())
    second = engine.run(monitors, far())
    by_start = sorted(second, key=lambda r: r.checked_at)  # one worker: finish order is start order
    assert [r.monitor for r in by_start] == ["long", "quick", "middling"]


def test_an_endpoint_that_hangs_has_its_other_monitors_started_ahead_of_their_turn(socket_server, httpserver):
    """A fresh engine knows no timings: in config order the second hanging monitor would start
    only after all twenty quick ones. Once the first has waited a tenth of its timeout while
    later monitors answered, its endpoint's other monitor goes next."""
    arrivals: list[str] = []

    def hanging(conn) -> None:
        read_request(conn)
        arrivals.append("hang")
        hang(conn)

    def quick(request: Request) -> Response:
        arrivals.append(request.path)
        time.sleep(0.02)
        return Response("ok")

    server = socket_server(hanging)
    httpserver.expect_request(re.compile("/q.*")).respond_with_handler(quick)
    url = f"http://127.0.0.1:{server.port}"
    monitors = [Monitor(name="a1", url=f"{url}/a1", timeout=1.0, retries=0)]
    monitors += [
        Monitor(name=f"q{i}", url=httpserver.url_for(f"/q{i}"), timeout=1.0, retries=0) for i in range(20)
    ]
    monitors.append(Monitor(name="a2", url=f"{url}/a2", timeout=1.0, retries=0))
    results = ProbeEngine(workers=2).run(monitors, far())
    assert [r.ok for r in results] == [False] + [True] * 20 + [False]
    second = [i for i, who in enumerate(arrivals) if who == "hang"][1]
    assert arrivals[second + 1 :].count("/q19") == 1, arrivals  # the last quick one came after it
    assert 8 <= second <= 16, arrivals  # overtaken by 8 later monitors first, a few more meanwhile
