"""A gate signal reaching `on_alarm` mid-shift rolls back in that invocation (Chalice's test
client, moto as AWS); a rollback that fails never costs the alarm its incident. Only a new state
change from the shift's own time rolls back: not one from before it, not a redelivery, not one
older than the change on record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterator

import pytest
from chalice.test import Client

from chalicelib.aws.clients import client
from chalicelib.deployments.shifter import StartOptions
from tests.deployments.conftest import DEPLOYMENT, T0, World, build_world

EVENTS = Path(__file__).resolve().parents[2] / "events"


def at(epoch: float) -> str:
    """CloudWatch's StateChangeTime."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


DURING = at(T0 + 30)  # the fixture's shift started at T0


def sns_event(name: str, message_id: str, **changes: Any) -> dict[str, Any]:
    event = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    sns = event["Records"][0]["Sns"]
    changes.setdefault("StateChangeTime", DURING)
    sns["Message"] = json.dumps({**json.loads(sns["Message"]), **changes})
    sns["MessageId"] = message_id
    return event


@pytest.fixture
def shifting(deploy) -> Iterator[tuple[Any, World]]:
    deployment = deploy(DEPLOYMENT.replace("EXTRA", "").replace("MORE", ""))
    world = build_world(deployment.app.config, with_table=False)
    world.monitor("UP")
    world.shifter.start(world.web, StartOptions(), by="person")
    assert world.weights() == {"web-blue": 90, "web-green": 10}
    yield deployment, world


def test_a_gate_alarm_nobody_routes_still_rolls_back_at_once(shifting) -> None:
    deployment, world = shifting
    event = sns_event("alarm-metric-alarm", "m-5xx", AlarmName="web-5xx-high")
    with Client(deployment.app.app) as chalice:
        out = chalice.lambda_.invoke("on_alarm", event).payload
    assert [r["state"] for r in out["rolled_back"]] == ["rolled_back"]
    assert out["rolled_back"][0]["history"][-1]["by"] == "alarm:web-5xx-high"
    assert out["handled"] == [] and "no monitor or alarms[].match claims" in out["dropped"][0]
    assert world.weights() == {"web-blue": 100}
    assert not world.sticky()  # clients holding a cookie for green move too


def test_a_gate_monitor_down_rolls_back_and_opens_its_incident(shifting) -> None:
    deployment, world = shifting
    with Client(deployment.app.app) as chalice:
        out = chalice.lambda_.invoke("on_alarm", sns_event("alarm-probe-down", "m-down")).payload
        again = chalice.lambda_.invoke("on_alarm", sns_event("alarm-probe-down", "m-down")).payload
    assert out["rolled_back"][0]["history"][-1]["by"] == "monitor:web"
    assert out["handled"][0]["status"] == "open"
    assert world.weights() == {"web-blue": 100}
    assert again["rolled_back"] == []  # a redelivery finds nothing shifting: acts once


def test_ok_and_unrelated_alarms_move_nothing(shifting) -> None:
    deployment, world = shifting
    with Client(deployment.app.app) as chalice:
        ok = chalice.lambda_.invoke("on_alarm", sns_event("alarm-probe-up", "m-up")).payload
        other = chalice.lambda_.invoke(
            "on_alarm", sns_event("alarm-metric-alarm", "m-db", AlarmName="db-cpu-high")
        ).payload
    assert ok["rolled_back"] == [] and other["rolled_back"] == []
    assert world.weights() == {"web-blue": 90, "web-green": 10}


def test_a_failed_rollback_keeps_the_incident_and_advance_finishes_it(shifting) -> None:
    deployment, world = shifting
    world.monitor("DOWN")  # what the probe recorded before it published the transition
    fired = []

    def refuse(**_: Any) -> None:
        if not fired:
            fired.append(True)
            raise RuntimeError("elbv2 unreachable")

    reads = client("elbv2")
    reads.meta.events.register("before-call.elastic-load-balancing-v2.DescribeTargetGroups", refuse)
    try:
        with Client(deployment.app.app) as chalice:
            out = chalice.lambda_.invoke("on_alarm", sns_event("alarm-probe-down", "m-fail")).payload
    finally:
        reads.meta.events.unregister("before-call.elastic-load-balancing-v2.DescribeTargetGroups", refuse)
    assert fired and out["rolled_back"] == [{"signal": "web", "error": "RuntimeError: elbv2 unreachable"}]
    assert out["handled"][0]["status"] == "open"  # the alarm was not lost to the failed rollback
    assert world.weights() == {"web-blue": 90, "web-green": 10}
    with Client(deployment.app.app) as chalice:
        scheduled = json.loads((EVENTS / "advance-scheduled.json").read_text())
        tick = chalice.lambda_.invoke("advance", scheduled).payload
    assert [d["state"] for d in tick["deployments"]] == ["rolled_back"]
    assert world.weights() == {"web-blue": 100}


GATE_SIGNALS = {
    "alarm": ("alarm-metric-alarm", {"AlarmName": "web-5xx-high"}),  # nobody routes it
    "monitor": ("alarm-probe-down", {}),  # its incident opens too
}


@pytest.mark.parametrize("gate", sorted(GATE_SIGNALS))
def test_a_gate_alarm_from_before_the_shift_rolls_nothing_back(shifting, gate) -> None:
    deployment, world = shifting
    name, changes = GATE_SIGNALS[gate]
    event = sns_event(name, "m-old", StateChangeTime=at(T0 - 60), **changes)
    with Client(deployment.app.app) as chalice:
        out = chalice.lambda_.invoke("on_alarm", event).payload
    assert out["rolled_back"] == []
    assert world.weights() == {"web-blue": 90, "web-green": 10}
    assert world.shifter.status(world.web)["state"] == "shifting"


@pytest.mark.parametrize("gate", sorted(GATE_SIGNALS))
def test_a_redelivery_after_the_shift_started_again_rolls_nothing_back(shifting, gate) -> None:
    deployment, world = shifting
    name, changes = GATE_SIGNALS[gate]
    with Client(deployment.app.app) as chalice:
        first = chalice.lambda_.invoke("on_alarm", sns_event(name, "m-1", **changes)).payload
        assert [r["state"] for r in first["rolled_back"]] == ["rolled_back"]
        world.clock.tick(120)
        world.shifter.start(world.web, StartOptions(), by="person")  # fixed, and started again
        assert world.weights() == {"web-blue": 90, "web-green": 10}
        again = chalice.lambda_.invoke("on_alarm", sns_event(name, "m-1", **changes)).payload
        republished = chalice.lambda_.invoke("on_alarm", sns_event(name, "m-2", **changes)).payload
    assert again["rolled_back"] == [] and republished["rolled_back"] == []
    assert world.weights() == {"web-blue": 90, "web-green": 10}
    assert world.shifter.status(world.web)["state"] == "shifting"


@pytest.mark.parametrize("gate", sorted(GATE_SIGNALS))
def test_an_alarm_delivered_after_its_ok_rolls_nothing_back(shifting, gate) -> None:
    deployment, world = shifting
    name, changes = GATE_SIGNALS[gate]
    ok_name = "alarm-probe-up" if gate == "monitor" else name
    ok = sns_event(ok_name, "m-ok", StateChangeTime=at(T0 + 90), **changes, NewStateValue="OK")
    late = sns_event(name, "m-late", StateChangeTime=at(T0 + 30), **changes)
    with Client(deployment.app.app) as chalice:
        assert chalice.lambda_.invoke("on_alarm", ok).payload["rolled_back"] == []
        out = chalice.lambda_.invoke("on_alarm", late).payload
    assert out["rolled_back"] == []
    assert world.weights() == {"web-blue": 90, "web-green": 10}
