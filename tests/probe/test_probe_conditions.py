"""conditions.py: pure checks of observed facts against Expect."""

from __future__ import annotations

import json

import pytest

from chalicelib.config.model import Expect
from chalicelib.probe import conditions
from chalicelib.probe.conditions import Observation, evaluate

DAY = 86400.0


@pytest.mark.parametrize(
    ("status", "expected", "reason"),
    [
        (200, (), None),
        (204, (), None),
        (299, (), None),
        (301, (), "status 301, expected 2xx"),
        (502, (), "status 502, expected 2xx"),
        (200, (200,), None),
        (503, (200, 204), "status 503, expected [200, 204]"),
        (502, (200,), "status 502, expected [200]"),
        (401, (401,), None),
    ],
)
def test_status(status, expected, reason):
    assert conditions.check_status(status, expected) == reason


@pytest.mark.parametrize(
    ("elapsed", "limit", "reason"),
    [
        (0.5, None, None),
        (0.5, 1.0, None),
        (1.0, 1.0, None),
        (1.25, 1.0, "response time 1.25s, expected at most 1s"),
        (1.00049, 1.0, "response time 1.001s, expected at most 1s"),  # ms, rounded up
        (0.7, 0.5, "response time 700ms, expected at most 500ms"),
        (3.0, 2.0, "response time 3s, expected at most 2s"),
    ],
)
def test_response_time(elapsed, limit, reason):
    assert conditions.check_response_time(elapsed, limit) == reason


def test_body_contains():
    assert conditions.check_body_contains(b"all ok here", "ok") is None
    assert conditions.check_body_contains(b"anything", None) is None
    assert conditions.check_body_contains(b"degraded", "ok") == "body does not contain 'ok'"
    assert conditions.check_body_contains("café".encode(), "café") is None


def test_body_contains_reason_is_short_for_long_text():
    reason = conditions.check_body_contains(b"", "x" * 500)
    assert reason is not None and len(reason) < 100 and reason.endswith("...")


HEALTH = json.dumps(
    {
        "status": "ok",
        "checks": {"db": {"status": "degraded", "latency": 3}},
        "up": True,
        "nodes": [{"name": "a"}, {"name": "b"}],
        "count": 1,
    }
).encode()


@pytest.mark.parametrize(
    ("expected", "reason"),
    [
        ({}, None),
        ({"status": "ok"}, None),
        ({"checks.db.latency": 3}, None),
        ({"up": True}, None),
        ({"nodes.1.name": "b"}, None),
        ({"checks.db.status": "ok"}, "json checks.db.status: 'degraded' != 'ok'"),
        ({"status": "ok", "checks.db.status": "ok"}, "json checks.db.status: 'degraded' != 'ok'"),
        ({"checks.cache.status": "ok"}, "json checks.cache.status: missing"),
        ({"nodes.5.name": "a"}, "json nodes.5.name: missing"),
        ({"status.deeper": "ok"}, "json status.deeper: missing"),
        ({"count": True}, "json count: 1 != True"),  # 1 is not true in a health check
        ({"up": 1}, "json up: True != 1"),
        ({"checks.db.latency": "3"}, "json checks.db.latency: 3 != '3'"),
    ],
)
def test_json(expected, reason):
    assert conditions.check_json(HEALTH, expected) == reason


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"", b"\xff\xfe\x00garbage", b"{"])
def test_json_on_a_body_that_is_not_json(body):
    assert conditions.check_json(body, {"status": "ok"}) == "json: body is not JSON"


def test_json_on_a_truncated_body():
    assert conditions.check_json(b'{"status": "ok"}', {"status": "ok"}, truncated=True) == (
        "json: body too large to parse"
    )


def test_json_of_a_top_level_list():
    assert conditions.check_json(b'[{"ok": true}]', {"0.ok": True}) is None


@pytest.mark.parametrize(
    ("left", "required", "reason"),
    [
        (None, 14 * DAY, None),
        (30 * DAY, None, None),
        (30 * DAY, 14 * DAY, None),
        (3 * DAY + 5, 14 * DAY, "certificate expires in 3d, expected at least 14d"),
        (5 * 3600.0, 14 * DAY, "certificate expires in 5h, expected at least 14d"),
        (90.0, 7 * DAY, "certificate expires in 1m, expected at least 7d"),
        (-2 * DAY - 7, 14 * DAY, "certificate expired 2d ago"),
    ],
)
def test_certificate(left, required, reason):
    assert conditions.check_certificate(left, required) == reason


def test_evaluate_reports_the_first_failure_in_order():
    expect = Expect(status=(200,), max_response_time=1.0, json={"status": "ok"})
    assert evaluate(Observation(500, 2.0, b"x"), expect) == "status 500, expected [200]"
    assert evaluate(Observation(200, 2.0, b"x"), expect).startswith("response time")
    assert evaluate(Observation(200, 0.1, b"x"), expect) == "json: body is not JSON"
    assert evaluate(Observation(200, 0.1, b'{"status": "ok"}'), expect) is None


def test_evaluate_checks_the_certificate_last():
    expect = Expect(certificate_valid_for=14 * DAY)
    observed = Observation(200, 0.1, b"", cert_seconds_left=DAY)
    assert evaluate(observed, expect) == "certificate expires in 1d, expected at least 14d"
    assert evaluate(Observation(200, 0.1, b"", cert_seconds_left=20 * DAY), expect) is None


def test_evaluate_with_default_expect_accepts_any_2xx():
    assert evaluate(Observation(204, 9.0), Expect()) is None
    assert evaluate(Observation(404, 0.1), Expect()) == "status 404, expected 2xx"


def test_lookup_does_not_index_into_strings():
    assert conditions.lookup({"a": "xyz"}, "a.0") is conditions._MISSING
