"""The sandbox's moto is as strict as ELBv2: actions validated, rules by priority, live health."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import LocalAlb, forward_action


@pytest.fixture
def alb(local_alb: LocalAlb) -> Iterator[LocalAlb]:
    local_alb.set_weights({"web-blue": 100, "web-green": 0})
    yield local_alb
    local_alb.heal()


def default_actions(alb: LocalAlb) -> list[dict[str, Any]]:
    (listener,) = alb.client("elbv2").describe_listeners(ListenerArns=[alb.listener_arn])["Listeners"]
    return listener["DefaultActions"]


def refused(alb: LocalAlb, action: dict[str, Any]) -> ClientError:
    before = default_actions(alb)
    with pytest.raises(ClientError) as caught:
        alb.client("elbv2").modify_listener(ListenerArn=alb.listener_arn, DefaultActions=[action])
    assert default_actions(alb) == before, "a refused ModifyListener changed the listener"
    return caught.value


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ({"web-blue": 1000, "web-green": 0}, "Weight: expected 0..999, got 1000"),
        ({"web-blue": 0, "web-green": 0}, "at least one weight must be above 0"),
        ({"web-blue": -1, "web-green": 50}, "Weight: expected 0..999, got -1"),
    ],
)
def test_modify_listener_refuses_bad_weights(alb: LocalAlb, weights: dict[str, int], expected: str) -> None:
    error = refused(alb, forward_action({alb.groups[n]: w for n, w in weights.items()}))
    assert error.response["Error"]["Code"] == "ValidationError"
    assert expected in error.response["Error"]["Message"]


def test_modify_listener_refuses_an_unknown_target_group(alb: LocalAlb) -> None:
    missing = alb.groups["web-green"].replace("web-green", "web-gone")
    error = refused(alb, forward_action({alb.groups["web-blue"]: 50, missing: 50}))
    assert error.response["Error"]["Code"] == "TargetGroupNotFound"


def test_modify_listener_accepts_valid_weights_and_stores_them(alb: LocalAlb) -> None:
    alb.set_weights({"web-blue": 90, "web-green": 10}, sticky=True)
    config = default_actions(alb)[0]["ForwardConfig"]
    weights = {g["TargetGroupArn"]: g["Weight"] for g in config["TargetGroups"]}
    assert weights == {alb.groups["web-blue"]: 90, alb.groups["web-green"]: 10}
    assert config["TargetGroupStickinessConfig"]["Enabled"] is True


def test_fixed_response_body_is_limited_to_1024_bytes(alb: LocalAlb) -> None:
    def fixed(body: str) -> dict[str, Any]:
        config = {"StatusCode": "503", "ContentType": "text/html", "MessageBody": body}
        return {"Type": "fixed-response", "FixedResponseConfig": config}

    error = refused(alb, fixed("é" * 513))  # 1,026 bytes in UTF-8: bytes count, not characters
    assert error.response["Error"]["Code"] == "InvalidLoadBalancerAction"
    assert "at most 1024 bytes, got 1026" in error.response["Error"]["Message"]
    elbv2 = alb.client("elbv2")
    elbv2.modify_listener(ListenerArn=alb.listener_arn, DefaultActions=[fixed("x" * 1024)])
    assert default_actions(alb)[0]["FixedResponseConfig"]["MessageBody"] == "x" * 1024


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"StatusCode": "HTTP_307", "Host": "x.example"}, "StatusCode: expected one of"),
        ({"StatusCode": "HTTP_302", "Path": "maintenance.html"}, "Path: expected to start with '/'"),
        ({"StatusCode": "HTTP_302", "Protocol": "FTP"}, "Protocol: expected one of"),
        ({"StatusCode": "HTTP_302", "Port": "70000"}, "Port: expected 1..65535"),
        ({"StatusCode": "HTTP_302", "Query": "?v=1"}, "without a leading '?'"),
        ({"StatusCode": "HTTP_301"}, "would lead to the same URL"),
    ],
)
def test_redirects_are_validated(alb: LocalAlb, config: dict[str, str], expected: str) -> None:
    error = refused(alb, {"Type": "redirect", "RedirectConfig": config})
    assert expected in error.response["Error"]["Message"]


def test_create_rule_and_modify_rule_validate_too(alb: LocalAlb) -> None:
    elbv2 = alb.client("elbv2")
    conditions = [{"Field": "path-pattern", "Values": ["/x/*"]}]
    bad = forward_action({alb.groups["web-blue"]: 0})
    with pytest.raises(ClientError, match="at least one weight"):
        elbv2.create_rule(ListenerArn=alb.listener_arn, Priority=7, Conditions=conditions, Actions=[bad])
    good = forward_action({alb.groups["web-blue"]: 1})
    rule = elbv2.create_rule(ListenerArn=alb.listener_arn, Priority=7, Conditions=conditions, Actions=[good])
    arn = rule["Rules"][0]["RuleArn"]
    try:
        with pytest.raises(ClientError, match="Weight: expected 0..999"):
            elbv2.modify_rule(RuleArn=arn, Actions=[forward_action({alb.groups["web-blue"]: 1200})])
        (stored,) = elbv2.describe_rules(RuleArns=[arn])["Rules"]
        assert stored["Actions"][0]["ForwardConfig"]["TargetGroups"][0]["Weight"] == 1
    finally:
        elbv2.delete_rule(RuleArn=arn)


def test_describe_rules_sorts_by_priority_default_last(alb: LocalAlb) -> None:
    elbv2 = alb.client("elbv2")
    created = []
    for priority in (30, 5, 20):  # moto alone returns creation order
        rule = elbv2.create_rule(
            ListenerArn=alb.listener_arn,
            Priority=priority,
            Conditions=[{"Field": "path-pattern", "Values": [f"/p{priority}"]}],
            Actions=[forward_action({alb.groups["web-blue"]: 1})],
        )
        created.append(rule["Rules"][0]["RuleArn"])
    try:
        rules = elbv2.describe_rules(ListenerArn=alb.listener_arn)["Rules"]
        assert [r["Priority"] for r in rules] == ["5", "20", "30", "default"]
    finally:
        for arn in created:
            elbv2.delete_rule(RuleArn=arn)


def health(alb: LocalAlb, name: str) -> dict[str, Any]:
    group = alb.groups["web-green" if name.startswith("green") else "web-blue"]
    found = alb.client("elbv2").describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    return next(h["TargetHealth"] for h in found if h["Target"]["Id"] == alb.instance_ids[name])


def wait_health(alb: LocalAlb, name: str, state: str, limit: float = 6.0) -> dict[str, Any]:
    ends = time.monotonic() + limit
    while True:
        found = health(alb, name)
        if found["State"] == state or time.monotonic() > ends:
            return found
        time.sleep(0.2)


def test_every_instance_starts_healthy(alb: LocalAlb) -> None:
    assert [wait_health(alb, n, "healthy")["State"] for n in alb.fleet.names] == ["healthy"] * 3


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("error", "Target.ResponseCodeMismatch"),
        ("hang", "Target.Timeout"),
        ("die", "Target.FailedHealthChecks"),
    ],
)
def test_live_health_turns_unhealthy_with_alb_reasons(alb: LocalAlb, fault: str, reason: str) -> None:
    wait_health(alb, "blue-2", "healthy")
    alb.fleet.fault("blue-2", fault)
    found = wait_health(alb, "blue-2", "unhealthy")
    assert (found["State"], found.get("Reason")) == ("unhealthy", reason)
    assert health(alb, "blue-1")["State"] == "healthy"  # only the faulty target
    alb.heal()
    assert wait_health(alb, "blue-2", "healthy")["State"] == "healthy"


def test_an_instance_without_a_local_address_keeps_mocos_answer(alb: LocalAlb) -> None:
    ec2, elbv2 = alb.client("ec2"), alb.client("elbv2")
    (instance,) = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"]
    group = alb.groups["web-green"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": instance["InstanceId"]}])
    try:
        found = elbv2.describe_target_health(TargetGroupArn=group, Targets=[{"Id": instance["InstanceId"]}])[
            "TargetHealthDescriptions"
        ]
        assert found[0]["TargetHealth"]["State"] == "healthy"
    finally:
        elbv2.deregister_targets(TargetGroupArn=group, Targets=[{"Id": instance["InstanceId"]}])
