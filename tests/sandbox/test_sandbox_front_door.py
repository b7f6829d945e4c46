"""The front door routes as an ALB does, from what moto stores, over real sockets."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import websocket

from sandbox.alb_metrics import NAMESPACE
from sandbox.front_door import FrontDoor

from .conftest import LocalAlb, forward_action

REFRESH = 0.2


@pytest.fixture(scope="module")
def door(local_alb: LocalAlb) -> Iterator[FrontDoor]:
    with FrontDoor(
        local_alb.client, ["web-alb"], refresh_seconds=REFRESH, metrics_seconds=60, target_timeout=2.0, seed=7
    ) as running:
        yield running


@pytest.fixture
def alb(local_alb: LocalAlb, door: FrontDoor) -> Iterator[LocalAlb]:
    local_alb.set_weights({"web-blue": 100, "web-green": 0})
    settle(door)
    door.served.reset()
    yield local_alb
    local_alb.heal()


def settle(door: FrontDoor) -> None:
    """Wait past one background refresh, so the door routes on what moto now holds."""
    door.refresh()
    time.sleep(REFRESH * 1.5)


def wait_until(what: str, condition: Callable[[], Any], limit: float = 8.0) -> Any:
    ends = time.monotonic() + limit
    while time.monotonic() < ends:
        if found := condition():
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for: {what}")


def get(door: FrontDoor, path: str = "/healthz", **kwargs: Any) -> requests.Response:
    return requests.get(door.url("web-alb", 80) + path, timeout=5, allow_redirects=False, **kwargs)


def test_weighted_shares_hold_over_400_requests(alb: LocalAlb, door: FrontDoor) -> None:
    alb.set_weights({"web-blue": 10, "web-green": 90})
    settle(door)
    door.served.reset()
    instances = Counter(get(door).json()["instance"] for _ in range(400))  # no cookies kept
    counts = door.served.counts()
    print(f"\nshares over 400 requests at 10/90: {counts} -> v2 {door.served.share('v2'):.3f}")
    assert sum(counts.values()) == 400
    assert abs(door.served.share("v2") - 0.90) <= 0.05  # 3.3 standard deviations at n=400
    assert instances["blue-1"] and instances["blue-2"]  # blue's targets take turns
    assert abs(instances["blue-1"] - instances["blue-2"]) <= 1


def test_sticky_client_stays_on_its_group_until_stickiness_is_off(alb: LocalAlb, door: FrontDoor) -> None:
    alb.set_weights({"web-blue": 1, "web-green": 999}, sticky=True)
    settle(door)
    client = requests.Session()
    first = client.get(door.url("web-alb", 80) + "/healthz", timeout=5)
    assert first.headers["X-App-Version"] == "v2" and "AWSALBTG" in client.cookies
    alb.set_weights({"web-blue": 100, "web-green": 0}, sticky=True)  # a rollback that keeps stickiness
    settle(door)
    held = [
        client.get(door.url("web-alb", 80) + "/healthz", timeout=5).headers["X-App-Version"]
        for _ in range(20)
    ]
    assert held == ["v2"] * 20, "an ALB keeps a sticky client on its group even at weight 0"
    assert get(door).headers["X-App-Version"] == "v1"  # a new client follows the weights
    alb.set_weights({"web-blue": 100, "web-green": 0}, sticky=False)  # rollback turns stickiness off
    settle(door)
    moved = {
        client.get(door.url("web-alb", 80) + "/healthz", timeout=5).headers["X-App-Version"]
        for _ in range(20)
    }
    assert moved == {"v1"}


def test_unhealthy_target_gets_no_traffic_and_all_unhealthy_fails_open(
    alb: LocalAlb, door: FrontDoor
) -> None:
    alb.fleet.fault("blue-2", "error")
    wait_until(
        "blue-2 out of rotation", lambda: all(get(door).json()["instance"] == "blue-1" for _ in range(6))
    )
    alb.fleet.fault("blue-1", "error")

    def both_failing() -> bool:
        group = door.snapshot.groups[alb.groups["web-blue"]]
        return not any(t.healthy for t in group.targets)

    wait_until("both blue targets unhealthy", both_failing)
    answers = [get(door) for _ in range(4)]
    # As an ALB: a group with only unhealthy targets still gets the traffic (fail open).
    assert [(r.status_code, r.headers.get("X-App-Version")) for r in answers] == [(500, "v1")] * 4


def add_rule(alb: LocalAlb, priority: int, conditions: list[dict[str, Any]], action: dict[str, Any]) -> str:
    rule = alb.client("elbv2").create_rule(
        ListenerArn=alb.listener_arn, Priority=priority, Conditions=conditions, Actions=[action]
    )
    return str(rule["Rules"][0]["RuleArn"])


@pytest.fixture
def rules(alb: LocalAlb) -> Iterator[list[str]]:
    created: list[str] = []
    yield created
    for arn in created:
        alb.client("elbv2").delete_rule(RuleArn=arn)


def path_is(*values: str) -> list[dict[str, Any]]:
    return [{"Field": "path-pattern", "PathPatternConfig": {"Values": list(values)}}]


def test_rules_by_priority_redirect_and_fixed_response(
    alb: LocalAlb, door: FrontDoor, rules: list[str]
) -> None:
    teapot = {"StatusCode": "418", "ContentType": "application/json", "MessageBody": '{"down": true}'}
    moved = {
        "StatusCode": "HTTP_301",
        "Protocol": "HTTPS",
        "Port": "443",
        "Host": "new.example.com",
        "Path": "/v2/#{path}",
    }
    to_status = {
        "StatusCode": "HTTP_302",
        "Host": "status.example.com",
        "Port": "8080",
        "Query": "from=#{host}",
    }
    # Created lowest priority first: the order moto stores them in must not matter.
    rules.append(
        add_rule(alb, 30, path_is("/old/*"), {"Type": "fixed-response", "FixedResponseConfig": teapot})
    )
    rules.append(add_rule(alb, 20, path_is("/old/*"), {"Type": "redirect", "RedirectConfig": moved}))
    rules.append(
        add_rule(alb, 25, path_is("/api/*"), {"Type": "fixed-response", "FixedResponseConfig": teapot})
    )
    host = [{"Field": "host-header", "HostHeaderConfig": {"Values": ["*.status.test"]}}]
    rules.append(add_rule(alb, 10, host, {"Type": "redirect", "RedirectConfig": to_status}))
    settle(door)

    redirected = get(door, "/old/page?x=1")
    assert redirected.status_code == 301
    assert redirected.headers["Location"] == "https://new.example.com/v2/old/page?x=1"
    fixed = get(door, "/api/thing")
    assert (fixed.status_code, fixed.headers["Content-Type"], fixed.json()) == (
        418,
        "application/json",
        {"down": True},
    )
    by_host = get(door, "/old/page", headers={"Host": "eu.STATUS.test:1234"})
    assert by_host.status_code == 302
    assert by_host.headers["Location"] == "http://status.example.com:8080/old/page?from=eu.status.test"
    assert get(door, "/oldish").headers["X-App-Version"] == "v1"  # no rule matched: the default


def test_503_when_the_group_has_no_registered_target(
    alb: LocalAlb, door: FrontDoor, rules: list[str]
) -> None:
    elbv2 = alb.client("elbv2")
    vpc = elbv2.describe_target_groups(Names=["web-blue"])["TargetGroups"][0]["VpcId"]
    empty = elbv2.create_target_group(Name="web-empty", Protocol="HTTP", Port=80, VpcId=vpc)
    arn = empty["TargetGroups"][0]["TargetGroupArn"]
    try:
        rules.append(add_rule(alb, 40, path_is("/empty*"), forward_action({arn: 1})))
        settle(door)
        answer = get(door, "/empty")
        assert answer.status_code == 503 and "X-App-Version" not in answer.headers
        assert get(door, "/healthz").status_code == 200
    finally:
        for rule in list(rules):
            elbv2.delete_rule(RuleArn=rule)
            rules.remove(rule)
        elbv2.delete_target_group(TargetGroupArn=arn)


def test_websocket_stays_on_its_target_after_a_weight_change(alb: LocalAlb, door: FrontDoor) -> None:
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{door.url('web-alb', 80).rsplit(':', 1)[1]}/ws", timeout=5
    )
    try:
        hello = json.loads(ws.recv())
        assert hello["version"] == "v1" and ws.getheaders()["x-app-version"] == "v1"
        alb.set_weights({"web-blue": 0, "web-green": 100})
        wait_until("new requests on green", lambda: get(door).headers["X-App-Version"] == "v2")
        ws.send("still there?")
        echoed = json.loads(ws.recv())
        assert echoed == {"instance": hello["instance"], "version": "v1", "echo": "still there?"}
    finally:
        ws.close()


def test_metrics_reach_cloudwatch_per_target_group(alb: LocalAlb, door: FrontDoor) -> None:
    alb.set_weights({"web-blue": 0, "web-green": 100})
    alb.fleet.fault("green-1", "error")
    settle(door)
    cloudwatch = alb.client("cloudwatch")
    green = door.snapshot.groups[alb.groups["web-green"]]
    balancer = door.snapshot.listeners[("web-alb", 80)].load_balancer_dimension
    assert green.dimension.startswith("targetgroup/web-green/") and balancer.startswith("app/web-alb/")
    dimensions = [
        {"Name": "TargetGroup", "Value": green.dimension},
        {"Name": "LoadBalancer", "Value": balancer},
    ]

    def total(metric: str, statistic: str = "Sum") -> float:
        found = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName=metric,
            Dimensions=dimensions,
            StartTime=time.time() - 3600,
            EndTime=time.time() + 60,
            Period=3600,
            Statistics=[statistic],
        )["Datapoints"]
        return sum(point[statistic] for point in found)

    door.publisher.flush()  # what earlier tests sent
    before = {m: total(m) for m in ("RequestCount", "HTTPCode_Target_5XX_Count")}
    timed_before = total("TargetResponseTime", "SampleCount")
    statuses = [get(door, "/").status_code for _ in range(12)]
    assert statuses == [500] * 12
    door.publisher.flush()
    assert total("RequestCount") - before["RequestCount"] == 12
    assert total("HTTPCode_Target_5XX_Count") - before["HTTPCode_Target_5XX_Count"] == 12
    assert total("TargetResponseTime", "SampleCount") - timed_before == 12
    assert 0 < total("TargetResponseTime", "Maximum") < 2
