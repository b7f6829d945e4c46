"""Every alarm shape in events/ through the real `on_alarm` function, against moto and a real
health endpoint: what reaches SSM, DynamoDB and the notify topic for each."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from chalicelib.runbooks.incident import ESCALATED, HEALED, OPEN, RESOLVED

from .conftest import REPO, RESTART_FLEET, RESTART_WEB, probe_event, sns_event


def only_command(world) -> dict:
    [command] = world.commands()
    return command


def test_metric_alarm_restarts_the_tagged_instances_and_heals(world):
    out = world.on_alarm(world.event("alarm-metric-alarm"))

    command = only_command(world)
    assert command["DocumentName"] == "autoheal-restart"
    # The alarm names blue-1 (InstanceId): blue-1 alone, of the runbook's blue instances.
    assert command["InstanceIds"] == [world.instances["blue-1"]]
    assert command["Parameters"] == RESTART_WEB
    [handled] = out["handled"]
    assert handled["runbook"] == "restart-web" and handled["commands"] == [command["CommandId"]]
    incident = world.incident("web-blue-memory-high")
    assert (incident.status, incident.run.state) == (RESOLVED, HEALED)
    assert world.kinds() == ["action", "opened", "recovered"]
    assert world.health.requests >= 1  # verify really probed the endpoint


def test_metric_alarm_escalates_then_insufficient_data_then_ok(world):
    world.health.status = 500
    world.on_alarm(world.event("alarm-metric-alarm"))
    incident = world.incident("web-blue-memory-high")
    assert (incident.status, incident.run.state) == (OPEN, ESCALATED)
    assert world.kinds() == ["action", "escalated", "opened"]
    assert len(world.commands()) == 1

    before = world.incident("web-blue-memory-high")
    out = world.on_alarm(world.event("alarm-metric-insufficient"))
    after = world.incident("web-blue-memory-high")
    # INSUFFICIENT_DATA changes nothing but the story: no command, no message, still open.
    assert out["handled"][0]["status"] == OPEN
    assert after.status == OPEN and after.run == before.run
    assert after.story[: len(before.story)] == before.story
    [added] = after.story[len(before.story) :]
    assert "INSUFFICIENT_DATA" in added and "still open" in added
    assert world.published() == []
    assert len(world.commands()) == 1

    world.on_alarm(world.event("alarm-metric-ok"))
    closed = world.incident("web-blue-memory-high")
    assert closed.status == RESOLVED and closed.resolved_at is not None
    [recovered] = world.published()
    assert recovered["kind"] == "recovered"
    assert recovered["Subject"] == "[autoheal] web-blue-memory-high recovered"
    assert "Downtime:" in recovered["Message"]
    assert len(world.commands()) == 1  # OK never acts


def test_ok_without_an_open_incident_writes_nothing(world):
    out = world.on_alarm(world.event("alarm-metric-ok"))
    assert out["handled"][0]["action"] == "none: no open incident"
    # Only Powertools' idempotency record and the alarm's last state: no incident, message, command.
    assert {item["pk"] for item in world.items()} == {"idempotency", "alarm"}
    assert world.commands() == [] and world.published() == []


def test_insufficient_data_through_the_chalice_test_client_writes_no_incident(world):
    with Client(world.app.app, project_dir=str(REPO)) as chalice:
        out = chalice.lambda_.invoke("on_alarm", world.event("alarm-metric-insufficient")).payload
    assert out["handled"][0]["action"] == "none: no open incident"
    assert world.incident("web-blue-memory-high") is None
    assert world.commands() == [] and world.published() == []


def test_metric_math_alarm_is_routed_by_its_name(world):
    world.on_alarm(world.event("alarm-metric-math"))
    command = only_command(world)
    # No narrower dimension: one blue instance at a time, and the first restart healed it.
    assert command["Parameters"] == RESTART_WEB and command["InstanceIds"] == world.blue[:1]
    assert world.incident("web-5xx-rate-high").run.runbook == "restart-web"


def test_composite_alarm_is_routed_by_a_glob_on_its_name(world):
    world.on_alarm(sns_event("alarm-composite"))
    command = only_command(world)
    # "web-service-*" -> restart-fleet: app=web instances, blue and green, one at a time.
    assert command["Parameters"] == RESTART_FLEET
    assert command["InstanceIds"] == world.everyone[:1]
    incident = world.incident("web-service-degraded")
    assert incident.run.runbook == "restart-fleet" and incident.status == RESOLVED


def test_probe_down_runs_the_monitors_runbook_and_up_closes(world):
    world.health.status = 503
    world.on_alarm(sns_event("alarm-probe-down"))
    incident = world.incident("web")  # a probe incident is keyed by its monitor
    assert (incident.status, incident.run.runbook, incident.run.state) == (OPEN, "restart-web", ESCALATED)
    # The whole tier failed the probe: each blue instance restarted in turn, a verify between.
    commands = sorted(world.commands(), key=lambda c: c["RequestedDateTime"])
    assert [c["InstanceIds"] for c in commands] == [[i] for i in world.blue]
    assert all(c["Parameters"] == RESTART_WEB for c in commands)
    world.published()

    world.health.status = 200
    world.on_alarm(sns_event("alarm-probe-up"))
    assert world.incident("web").status == RESOLVED
    assert [m["kind"] for m in world.published()] == ["recovered"]
    assert len(world.commands()) == 2


def test_probe_down_for_a_monitor_without_runbook_only_notifies(world):
    world.on_alarm(probe_event("ALARM", "api", "api-down-1"))
    incident = world.incident("api")
    assert incident.status == OPEN and incident.run is None
    assert any("no runbook: notifications only" in line for line in incident.story)
    assert world.kinds() == ["opened"]
    assert world.commands() == []


@pytest.mark.parametrize(
    "name",
    ["db-memory-high", "WEB-blue-memory-high", "web-blue-memory-high-2", "xweb-5xx-rate-high"],
)
def test_unmapped_alarm_names_are_dropped_without_any_write(world, name):
    with Client(world.app.app, project_dir=str(REPO)) as chalice:
        event = world.event("alarm-metric-alarm", AlarmName=name)
        out = chalice.lambda_.invoke("on_alarm", event).payload
    assert out["handled"] == [] and len(out["dropped"]) == 1
    world.nothing_written()


def test_probe_alarm_for_an_unknown_monitor_is_dropped(world):
    out = world.on_alarm(probe_event("ALARM", "billing", "billing-down-1"))
    assert out["handled"] == [] and "no monitor" in out["dropped"][0]
    world.nothing_written()


def test_generated_sns_event_from_the_chalice_test_client(world):
    """The test client's own SNS event generator carries a CloudWatch body just as well."""
    body = json.loads(world.event("alarm-metric-math")["Records"][0]["Sns"]["Message"])
    body["AlarmName"] = "billing-5xx-rate-high"  # unrouted: dropped before any write
    with Client(world.app.app, project_dir=str(REPO)) as chalice:
        event = chalice.events.generate_sns_event(message=json.dumps(body), subject="ALARM")
        out = chalice.lambda_.invoke("on_alarm", event).payload
    assert out["handled"] == [] and out["dropped"]
    world.nothing_written()


def test_the_chalice_test_client_alarm_then_ok_with_its_fixed_message_id(world):
    """The test client gives every generated event the same MessageId; an ALARM and the OK that
    follows are still two alarms, not one delivered twice."""
    alarm = json.loads(world.event("alarm-metric-alarm")["Records"][0]["Sns"]["Message"])
    ok = json.loads(world.event("alarm-metric-ok")["Records"][0]["Sns"]["Message"])
    with Client(world.app.app, project_dir=str(REPO)) as chalice:
        first = chalice.lambda_.invoke(
            "on_alarm", chalice.events.generate_sns_event(json.dumps(alarm))
        ).payload
        again = chalice.lambda_.invoke(
            "on_alarm", chalice.events.generate_sns_event(json.dumps(alarm))
        ).payload
        second = chalice.lambda_.invoke("on_alarm", chalice.events.generate_sns_event(json.dumps(ok))).payload
    assert first["handled"][0]["state"] == "ALARM" and len(world.commands()) == 1
    assert again == first, "the same message again is a duplicate"
    assert second["handled"][0]["state"] == "OK"
    assert world.incident(alarm["AlarmName"]).status == RESOLVED
