"""Each gate failing, against moto: before the start, while a step bakes, and at move time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.aws.clients import client
from chalicelib.aws.elbv2 import metric_dimension
from chalicelib.deployments.shifter import Refused, StartOptions
from chalicelib.deployments.signals import rollback_for_signal
from tests.deployments.conftest import World


def started(world: World) -> None:
    world.shifter.start(world.web, StartOptions(), by="person")
    assert world.weights() == {"web-blue": 90, "web-green": 10}


def test_start_refused_when_a_receiving_target_is_not_healthy(world: World) -> None:
    world.stop_instance("web-green")  # moto reports a stopped instance "unused"
    with pytest.raises(Refused, match="web-green targets not healthy: i-[0-9a-f]+ unused"):
        world.shifter.start(world.web, StartOptions(), by="person")
    assert world.weights() == {"web-blue": 100}
    assert world.shifter.status(world.web)["state"] == "idle"


def test_start_refused_while_a_gate_alarm_fires(world: World) -> None:
    world.alarm("web-5xx-high")
    world.alarm("other-5xx-high")  # not this deployment's
    with pytest.raises(Refused, match="alarm web-5xx-high is in ALARM"):
        world.shifter.start(world.web, StartOptions(), by="person")
    assert world.weights() == {"web-blue": 100}


def test_target_unhealthy_mid_step_rolls_back_at_the_next_tick(world: World) -> None:
    started(world)
    world.stop_instance("web-green")
    world.clock.tick(30)  # well before the next move is due
    view = world.shifter.tick(world.web)
    assert view["state"] == "rolled_back"
    assert world.weights() == {"web-blue": 100}
    assert view["history"][-1]["by"] == "gate:targets"


def test_monitor_down_rolls_back_and_unknown_holds(world: World) -> None:
    started(world)
    world.monitor("UNKNOWN")
    world.clock.tick(301)
    view = world.shifter.tick(world.web)
    assert (view["state"], view["history"][-1]["event"]) == ("shifting", "held")
    assert world.weights() == {"web-blue": 90, "web-green": 10}
    world.monitor("DOWN")
    view = world.shifter.tick(world.web)
    assert view["state"] == "rolled_back"
    assert view["history"][-1]["by"] == "monitor:web"


def test_held_past_the_deadline_rolls_back(world: World) -> None:
    started(world)
    world.monitor("UNKNOWN")
    world.clock.tick(301)
    assert world.shifter.tick(world.web)["state"] == "shifting"
    world.clock.tick(600)  # hold limit: max(2 x 5m, 10m) past the planned move
    view = world.shifter.tick(world.web)
    assert (view["state"], view["history"][-1]["by"]) == ("rolled_back", "deadline")
    assert world.weights() == {"web-blue": 100}


def test_gate_alarm_rolls_back_in_the_alarm_invocation(world: World) -> None:
    started(world)
    world.alarm("web-5xx-high")
    rolled = rollback_for_signal(world.shifter, world.config.deployments, "web-5xx-high", "ALARM")
    assert [r["state"] for r in rolled] == ["rolled_back"]
    assert world.weights() == {"web-blue": 100}  # at once, not waiting for advance
    assert not world.sticky()  # sticky clients of green move too
    assert rolled[0]["history"][-1]["by"] == "alarm:web-5xx-high"


def test_signals_that_gate_nothing_change_nothing(world: World) -> None:
    started(world)
    assert rollback_for_signal(world.shifter, world.config.deployments, "db-cpu-high", "ALARM") == []
    assert rollback_for_signal(world.shifter, world.config.deployments, "web-5xx-high", "OK") == []
    assert rollback_for_signal(world.shifter, world.config.deployments, "web", "UP") == []
    assert world.weights() == {"web-blue": 90, "web-green": 10}
    assert [
        r["state"] for r in rollback_for_signal(world.shifter, world.config.deployments, "web", "DOWN")
    ] == ["rolled_back"]


def put_alb_metrics(
    world: World, group: str, requests: int, errors: int, at: float, seconds: tuple[float, ...] = ()
) -> None:
    # In the ALB's own order (TargetGroup first); the gate asks LoadBalancer first.
    dims = [
        {"Name": "TargetGroup", "Value": metric_dimension(world.groups[group])},
        {"Name": "LoadBalancer", "Value": metric_dimension(world.lb_arn)},
    ]
    when = datetime.fromtimestamp(at, UTC)
    data = [
        {"MetricName": "RequestCount", "Dimensions": dims, "Value": requests, "Timestamp": when},
        {"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": dims, "Value": errors, "Timestamp": when},
    ]
    if seconds:
        data.append(
            {
                "MetricName": "TargetResponseTime",
                "Dimensions": dims,
                "Values": list(seconds),
                "Timestamp": when,
            }
        )
    client("cloudwatch").put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)


def test_compare_gate_rolls_back_a_slower_candidate_on_p95(make_world) -> None:
    world = make_world(", compare: {latency_margin: 0.2, min_requests: 50}")
    world.clock.now = datetime.now(UTC).timestamp() - 400
    started(world)
    # 95 of 100 answers fast, 5 slow: the p95 is the 95th value, still fast, for both groups ...
    blue = (0.02,) * 95 + (1.0,) * 5
    green = (0.02,) * 90 + (0.3,) * 10  # ... and green's 95th is 300 ms: 15 times stable's
    put_alb_metrics(world, "web-green", requests=100, errors=0, at=world.clock.now + 60, seconds=green)
    put_alb_metrics(world, "web-blue", requests=900, errors=0, at=world.clock.now + 60, seconds=blue)
    world.clock.tick(301)
    view = world.shifter.tick(world.web)
    assert (view["state"], view["history"][-1]["by"]) == ("rolled_back", "gate:compare")
    assert "candidate p95 300 ms vs stable 20 ms" in view["history"][-1]["detail"]
    assert world.weights() == {"web-blue": 100}


def test_compare_gate_passes_a_candidate_as_fast_as_stable(make_world) -> None:
    world = make_world(", compare: {latency_margin: 0.2, min_requests: 50}")
    world.clock.now = datetime.now(UTC).timestamp() - 400
    started(world)
    same = (0.02,) * 95 + (0.5,) * 5
    put_alb_metrics(world, "web-green", requests=100, errors=0, at=world.clock.now + 60, seconds=same)
    put_alb_metrics(world, "web-blue", requests=900, errors=0, at=world.clock.now + 60, seconds=same)
    world.clock.tick(301)
    view = world.shifter.tick(world.web)
    assert (view["state"], view["history"][-1]["event"]) == ("shifting", "moved")
    assert world.weights() == {"web-blue": 50, "web-green": 50}


def test_compare_gate_rolls_back_a_candidate_with_more_5xx(make_world) -> None:
    world = make_world(", compare: {error_rate_margin: 0.02, min_requests: 50}")
    world.clock.now = datetime.now(UTC).timestamp() - 400  # moto keeps metrics by wall time
    started(world)
    put_alb_metrics(world, "web-green", requests=100, errors=9, at=world.clock.now + 60)
    put_alb_metrics(world, "web-blue", requests=900, errors=9, at=world.clock.now + 60)
    world.clock.tick(301)
    view = world.shifter.tick(world.web)
    assert view["state"] == "rolled_back"
    assert view["history"][-1]["by"] == "gate:compare"
    assert "5xx rate 9.00% vs stable 1.00%" in view["history"][-1]["detail"]


def test_compare_gate_holds_on_too_few_requests(make_world) -> None:
    world = make_world(", compare: {min_requests: 50}")
    world.clock.now = datetime.now(UTC).timestamp() - 400
    started(world)
    put_alb_metrics(world, "web-green", requests=20, errors=0, at=world.clock.now + 60)
    put_alb_metrics(world, "web-blue", requests=900, errors=0, at=world.clock.now + 60)
    world.clock.tick(301)
    view = world.shifter.tick(world.web)
    assert view["state"] == "shifting"
    assert view["history"][-1]["event"] == "held"
    assert "inconclusive: candidate served 20 requests" in view["history"][-1]["detail"]
    assert world.weights() == {"web-blue": 90, "web-green": 10}  # inconclusive never promotes
