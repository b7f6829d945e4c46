"""ALB decisions without sockets: conditions, redirects, weighted choice, target health."""

from __future__ import annotations

from collections import Counter

import pytest

from sandbox.alb_actions import ActionError, validate_actions
from sandbox.alb_routing import (
    Balancer,
    Request,
    Rule,
    Target,
    TargetGroup,
    condition_holds,
    matching_rule,
    redirect,
)
from sandbox.target_health import matches


def request(path: str = "/", host: str = "app.example.com", query: str = "", **headers: str) -> Request:
    return Request("GET", path, query, host, 8080, {k.lower(): v for k, v in headers.items()})


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/api/*", "/api/x/y", True),
        ("/api/*", "/API/x", False),  # paths are case-sensitive
        ("/img/?.png", "/img/a.png", True),
        ("/img/?.png", "/img/ab.png", False),
        ("/a.b", "/aXb", False),  # a dot is a dot
    ],
)
def test_path_patterns(pattern: str, path: str, expected: bool) -> None:
    condition = {"Field": "path-pattern", "PathPatternConfig": {"Values": [pattern]}}
    assert condition_holds(condition, request(path)) is expected


def test_host_header_is_case_insensitive_and_conditions_all_hold() -> None:
    rule = Rule(
        3,
        (
            {"Field": "host-header", "Values": ["*.Example.com"]},
            {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Canary", "Values": ["y*"]}},
        ),
        ({"Type": "fixed-response"},),
    )
    default = Rule(1 << 30, (), ({"Type": "forward"},))
    assert matching_rule([default, rule], request(host="app.example.com", **{"X-Canary": "yes"})) is rule
    assert matching_rule([default, rule], request(host="app.example.com")) is default


def test_redirect_fills_placeholders_and_drops_default_ports() -> None:
    config = {"StatusCode": "HTTP_301", "Protocol": "HTTPS", "Port": "443", "Path": "/new/#{path}"}
    answer = redirect(config, request("/old/x", query="a=1"))
    assert answer.status == 301
    assert dict(answer.headers)["Location"] == "https://app.example.com/new/old/x?a=1"
    same_port = redirect({"StatusCode": "HTTP_302", "Host": "status.test"}, request("/"))
    assert (same_port.status, dict(same_port.headers)["Location"]) == (302, "http://status.test:8080/")


def test_weighted_choice_and_round_robin() -> None:
    blue = TargetGroup(
        "arn:tg/blue", "blue", (Target("i-1", "127.0.0.1:1", True), Target("i-2", "127.0.0.1:2", True))
    )
    green = TargetGroup("arn:tg/green", "green", (Target("i-3", "127.0.0.1:3", True),))
    action = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": "arn:tg/blue", "Weight": 3},
                {"TargetGroupArn": "arn:tg/green", "Weight": 1},
            ]
        },
    }
    balancer = Balancer(seed=1)
    picks = [balancer.forward(action, {g.arn: g for g in (blue, green)}, request()) for _ in range(2000)]
    groups = Counter(p.group.name for p in picks if p)
    targets = Counter(p.target.id for p in picks if p and p.group.name == "blue")
    assert abs(groups["blue"] / 2000 - 0.75) < 0.04
    assert abs(targets["i-1"] - targets["i-2"]) <= 1


def test_unhealthy_targets_are_skipped_unless_all_are() -> None:
    mixed = TargetGroup("arn:tg/b", "b", (Target("i-1", "a:1", False), Target("i-2", "a:2", True)))
    down = TargetGroup("arn:tg/b", "b", (Target("i-1", "a:1", False),))
    action = {"Type": "forward", "TargetGroupArn": "arn:tg/b"}
    balancer = Balancer(seed=1)
    assert {balancer.forward(action, {"arn:tg/b": mixed}, request()).target.id for _ in range(5)} == {"i-2"}
    assert balancer.forward(action, {"arn:tg/b": down}, request()).target.id == "i-1"  # fail open
    empty = TargetGroup("arn:tg/b", "b", ())
    assert balancer.forward(action, {"arn:tg/b": empty}, request()).target is None  # 503


@pytest.mark.parametrize(
    ("matcher", "status", "expected"), [("200", 200, True), ("200-299", 204, True), ("200,302", 301, False)]
)
def test_health_matcher(matcher: str, status: int, expected: bool) -> None:
    assert matches(status, matcher) is expected


def test_a_single_target_group_arn_counts_as_weight_one() -> None:
    validate_actions([{"Type": "forward", "TargetGroupArn": "arn:a"}], {"arn:a"})
    with pytest.raises(ActionError, match="listed twice"):
        groups = [{"TargetGroupArn": "arn:a", "Weight": 1}] * 2
        validate_actions([{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}], {"arn:a"})
