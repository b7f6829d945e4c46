"""Maintenance on the ALB listener, against moto: divert, restore exactly, idempotent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.aws.elbv2 import Elbv2, ListenerError, comparable
from chalicelib.maintenance.listener import FIXED_RESPONSE_LIMIT, ListenerMaintenance, fixed_page
from sandbox.moto_server import MotoServer
from sandbox.provision import create_table
from tests.maintenance.alb import build_alb

PAGE = "https://status.example.com/maintenance.html"


@pytest.fixture
def alb(local_aws: MotoServer) -> dict[str, Any]:
    create_table("autoheal-state")
    yield build_alb()
    wiring.reset()


def gate(form: str = "redirect") -> ListenerMaintenance:
    return ListenerMaintenance("autoheal-state", "web-alb", 443, PAGE, form=form)


def test_divert_redirects_and_keeps_health_paths_on_the_app(alb: dict[str, Any]) -> None:
    gate().divert("database upgrade")
    elb = Elbv2()
    action = elb.default_actions(alb["listener"])[0]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"] == {
        "Protocol": "HTTPS",
        "Port": "443",
        "Host": "status.example.com",
        "Path": "/maintenance.html",
        "Query": "",
        "StatusCode": "HTTP_302",
    }
    rules = elb.rules(alb["listener"])
    health = next(
        r for r in rules if r["Conditions"][0]["PathPatternConfig"]["Values"] == ["/healthz", "/api/healthz"]
    )
    assert int(health["Priority"]) == 2  # the lowest free: before any later rule
    weights = {
        g["TargetGroupArn"]: g["Weight"] for g in health["Actions"][0]["ForwardConfig"]["TargetGroups"]
    }
    assert weights == {alb["groups"][0]: 70, alb["groups"][1]: 30}  # the current groups


def test_restore_puts_back_the_exact_previous_action(alb: dict[str, Any]) -> None:
    gate().divert("upgrade")
    gate().restore()
    elb = Elbv2()
    assert elb.default_actions(alb["listener"]) == alb["previous"]
    assert [r["RuleArn"] for r in elb.rules(alb["listener"])] == [alb["api_rule"]]
    assert gate().restore()["diverted"] is False  # nothing saved any more: restoring twice is harmless


def test_divert_twice_keeps_the_first_saved_action(alb: dict[str, Any]) -> None:
    gate().divert("first")
    gate("fixed-response").divert("second")  # the listener now holds a maintenance action
    assert len(Elbv2().rules(alb["listener"])) == 2  # no second health rule
    gate().restore()
    assert Elbv2().default_actions(alb["listener"]) == alb["previous"]


def test_fixed_response_fits_albs_limit_and_loads_the_page(alb: dict[str, Any]) -> None:
    gate("fixed-response").divert("<script>alert(1)</script> " + "x" * 2000)
    action = Elbv2().default_actions(alb["listener"])[0]
    body = action["FixedResponseConfig"]["MessageBody"]
    assert action["FixedResponseConfig"]["StatusCode"] == "503"
    assert len(body.encode()) <= FIXED_RESPONSE_LIMIT
    assert f"location.replace({json.dumps(PAGE)})" in body
    assert "<script>alert" not in body


def test_a_page_url_too_long_for_a_fixed_response_is_refused_and_nothing_changes(alb: dict[str, Any]) -> None:
    long_page = PAGE + "?" + "a" * 600
    assert len(fixed_page(long_page, "").encode()) > FIXED_RESPONSE_LIMIT
    with pytest.raises(ListenerError, match="1024-byte fixed response"):
        ListenerMaintenance("autoheal-state", "web-alb", 443, long_page, form="fixed-response").divert("x")
    assert Elbv2().default_actions(alb["listener"]) == alb["previous"]


def test_bad_settings_are_refused_before_any_change(alb: dict[str, Any]) -> None:
    with pytest.raises(ListenerError, match="page_url: expected an http"):
        ListenerMaintenance("autoheal-state", "web-alb", 443, "ftp://x/y")
    with pytest.raises(ListenerError, match="form: expected redirect or fixed-response"):
        ListenerMaintenance("autoheal-state", "web-alb", 443, PAGE, form="html")
    assert Elbv2().default_actions(alb["listener"]) == alb["previous"]


def test_read_back_comparison_ignores_only_what_alb_fills_in() -> None:
    arn = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-blue/1"
    written = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": arn, "Weight": 1}]}}]
    sticky_off = {"Enabled": False}
    read_back = [
        {
            "Type": "forward",
            "TargetGroupArn": arn,
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": arn, "Weight": 1}],
                "TargetGroupStickinessConfig": sticky_off,
            },
        }
    ]
    assert comparable(written) == comparable(read_back)
    read_back[0]["ForwardConfig"]["TargetGroups"][0]["Weight"] = 2  # still all of the traffic
    assert comparable(written) == comparable(read_back)
    other = {"TargetGroupArn": arn.replace("web-blue", "web-green"), "Weight": 1}
    read_back[0]["ForwardConfig"]["TargetGroups"].append(other)  # a third of it elsewhere
    assert comparable(written) != comparable(read_back)
