"""A gate signal reaching `on_alarm` mid-shift rolls back in that invocation (Chalice's test
client, moto as AWS); a rollback that fails never costs the alarm its incident."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from chalice.test import Client

from chalicelib.aws.clients import client
from chalicelib.deployments.shifter import StartOptions
from tests.deployments.conftest import DEPLOYMENT, World, build_world

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sns_event(name: str, message_id: str, **changes: Any) -> dict[str, Any]:
    event = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    sns = event["Records"][0]["Sns"]
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
