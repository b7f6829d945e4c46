"""Replayed storms through the real `on_alarm` and `follow_up`, against moto and a real health
endpoint: one outage is one incident, one run, and a short thread of messages.

Each test asserts the runbook runs (SSM commands and incidents with a run) and the messages that
reached the notify topic. `STORM_FIGURES=1` prints them (the figures of the closing note).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.alarms.message import cloudwatch_time
from chalicelib.runbooks.incident import ESCALATED, HEALED, OPEN, RESOLVED
from chalicelib.runbooks.incident_store import IncidentConflict

from .conftest import base_config, probe_event, recover_after, set_within, sns_event

T0 = datetime(2026, 5, 1, 21, 0, 0, tzinfo=UTC)


def storm_config(health_url: str, group_wait: str | int = "2s") -> dict[str, Any]:
    config = set_within(base_config(health_url), "restart-web", "1s")
    config["settings"]["group_wait"] = group_wait
    web, api = config["monitors"]
    api.update(component="API", depends_on=["web"])
    realtime = {"name": "realtime", "url": f"{health_url}/rt", "timeout": "1s", "depends_on": ["web"]}
    config["monitors"] = [web, api, realtime]
    return config


def at(seconds: float) -> str:
    return cloudwatch_time(T0 + timedelta(seconds=seconds))


def probe(state: str, monitor: str, seconds: float, tag: str = "") -> dict[str, Any]:
    event = probe_event(state, monitor, f"{monitor}-{state}-{seconds}{tag}")
    return with_time(event, seconds)


def with_time(event: dict[str, Any], seconds: float) -> dict[str, Any]:
    import json

    sns = event["Records"][0]["Sns"]
    body = json.loads(sns["Message"])
    body["StateChangeTime"] = at(seconds)
    sns["Message"] = json.dumps(body)
    return event


def alarm(name: str, state: str, seconds: float) -> dict[str, Any]:
    sample = "alarm-metric-math" if state == "ALARM" else "alarm-metric-ok"
    event = sns_event(sample, f"{name}-{state}-{seconds}", AlarmName=name, StateChangeTime=at(seconds))
    if state != "ALARM":  # the OK sample names an instance: a 5xx rate names none
        import json

        sns = event["Records"][0]["Sns"]
        body = json.loads(sns["Message"])
        body["Trigger"]["Dimensions"] = []
        sns["Message"] = json.dumps(body)
    return event


def deliver(world, event: dict[str, Any]) -> dict[str, Any]:
    """As Lambda does: an invocation that raised is retried (twice at most for SNS)."""
    for attempt in range(3):
        try:
            return world.on_alarm(event)
        except IncidentConflict:
            if attempt == 2:
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")


def deliver_together(world, events: list[dict[str, Any]], retried: bool = True) -> None:
    """All at once; `retried=False`: each once, as if Lambda's retry were an hour away."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(events))

    def one(event: dict[str, Any]) -> None:
        start.wait()
        try:
            deliver(world, event) if retried else world.on_alarm(event)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []


def incidents(world) -> list[dict[str, Any]]:
    return [item for item in world.items() if item["pk"] == "incident"]


def figures(name: str, world, published: list[dict[str, Any]]) -> dict[str, Any]:
    runs = sum(1 for item in incidents(world) if item.get("run") and item["run"].get("runbook"))
    found = {
        "incidents": len(incidents(world)),
        "runs": runs,
        "commands": len(world.commands()),
        "messages": dict(Counter(m["kind"] for m in published)),
        "e-mail messages": len(published),
    }
    if os.environ.get("STORM_FIGURES"):
        print(f"\nSTORM {name}: {found}")
    return found


def settle_group_wait(world, seconds: float = 2.1) -> None:
    """Let the hold pass, then follow_up sends what is held."""
    time.sleep(seconds)
    world.follow_up()


# --- storms ----------------------------------------------------------------------------------


def test_one_blue_hang_is_one_incident_one_run_one_message(make_world, health):
    """web, api and realtime fail together; the run heals web while the others' alarms arrive."""
    # group_wait well above the ~1.5 s this run takes to heal, even on a loaded machine.
    world = make_world(set_within(storm_config(health.url, group_wait="10s"), "restart-web", "3s"))
    health.status = 500

    healer = recover_after(health, 1.2)
    web = threading.Thread(target=deliver, args=(world, probe("ALARM", "web", 0)))
    web.start()
    time.sleep(0.4)  # the probe published web first; api and realtime come during the run
    deliver_together(world, [probe("ALARM", "api", 0.1), probe("ALARM", "realtime", 0.2)])
    web.join(30)
    healer.join()
    for monitor, second in (("web", 5), ("api", 5.1), ("realtime", 5.2)):
        assert deliver(world, probe("OK", monitor, second))["handled"]

    published = world.published()
    found = figures("blue hang", world, published)
    [incident] = incidents(world)
    assert incident["sk"] == "restart-web/*" and incident["status"] == RESOLVED
    assert incident["run"]["state"] == HEALED
    assert sorted(incident["signals"]) == [f"autoheal-probe-{m}" for m in ("api", "realtime", "web")]
    assert found["commands"] == 1  # one restart (blue, one instance at a time; the first healed)
    # Healed within group_wait: nobody was told it opened; one message tells the whole story.
    assert [m["kind"] for m in published] == ["recovered"]
    story = published[0]["Message"]
    assert "autoheal-probe-api" in story and "autoheal-probe-realtime" in story


@pytest.mark.parametrize("spread_s", [1, 60], ids=["within-1s", "within-a-minute"])
def test_twenty_alarms_one_runbook_claims_are_one_incident_one_run(make_world, health, spread_s):
    # A hold longer than the run: its escalation (never held) sends the opening first, folded.
    world = make_world(storm_config(health.url, group_wait="20s"))
    health.status = 500  # restarts do not help: the run escalates
    events = [alarm(f"web-5xx-{i:02d}", "ALARM", i * spread_s / 20) for i in range(20)]
    if spread_s == 1:
        deliver_together(world, events)
    else:
        for event in events:
            deliver(world, event)

    published = world.published()
    found = figures(f"20 alarms {spread_s}s", world, published)
    [incident] = incidents(world)
    assert incident["sk"] == "restart-web/*" and incident["status"] == OPEN
    assert len(incident["signals"]) == 20
    assert incident["run"]["state"] == ESCALATED
    assert found["commands"] == 2  # one run: each blue instance restarted once, in turn
    kinds = Counter(m["kind"] for m in published)
    assert kinds == {"opened": 1, "escalated": 1}
    opened = next(m for m in published if m["kind"] == "opened")
    assert "web-5xx-00" in opened["Message"]

    for i, event in enumerate([alarm(f"web-5xx-{i:02d}", "OK", 100 + i) for i in range(20)]):
        deliver(world, event)
        if i < 19:
            assert world.published() == []  # an OK while others fail tells nobody
    assert [m["kind"] for m in world.published()] == ["recovered"]


def test_an_ok_for_one_signal_while_others_fail_keeps_the_incident_open(make_world, health):
    world = make_world(storm_config(health.url, group_wait=0))
    health.status = 500
    for i, name in enumerate(("web-5xx-a", "web-5xx-b", "web-5xx-c")):
        deliver(world, alarm(name, "ALARM", i))
    assert Counter(m["kind"] for m in world.published()) == {"opened": 1, "action": 2, "escalated": 1}

    deliver(world, alarm("web-5xx-a", "OK", 10))
    incident = world.incident("restart-web/*")
    assert incident.status == OPEN
    assert "web-5xx-a is OK; still failing: web-5xx-b, web-5xx-c" in incident.story[-1]
    assert world.published() == []
    deliver(world, alarm("web-5xx-b", "OK", 11))
    deliver(world, alarm("web-5xx-c", "OK", 12))
    assert world.incident("restart-web/*").status == RESOLVED
    assert [m["kind"] for m in world.published()] == ["recovered"]
    assert len(world.commands()) == 2  # one run


def test_a_dependency_recovering_while_its_dependent_stays_down(make_world, health):
    world = make_world(storm_config(health.url, group_wait=0))
    health.status = 500
    deliver(world, probe("ALARM", "web", 0))  # restarts, verify fails, escalates
    deliver(world, probe("ALARM", "api", 1))  # web is DOWN: joins its incident, tells nobody
    first = world.published()
    assert Counter(m["kind"] for m in first) == {"opened": 1, "action": 2, "escalated": 1}
    web = world.incident("restart-web/*")
    assert web.dependents == ["autoheal-probe-api"] and "autoheal-probe-api" in web.signals

    deliver(world, probe("OK", "web", 10))  # web recovers; api stays DOWN
    assert world.incident("restart-web/*").status == RESOLVED
    api = world.incident("component/API")
    assert api is not None and api.status == OPEN and api.signals == ["autoheal-probe-api"]
    assert [(m["kind"], m["Subject"]) for m in world.published()] == [
        ("recovered", "[autoheal] web recovered"),
        ("opened", "[autoheal] api is still failing after web recovered"),
    ]
    deliver(world, probe("OK", "api", 20))  # a resolve is never suppressed
    assert world.incident("component/API").status == RESOLVED
    assert [m["Subject"] for m in world.published()] == ["[autoheal] api recovered"]
    figures("dependency recovers first", world, first)


def test_out_of_order_and_twice(make_world, health):
    world = make_world(storm_config(health.url, group_wait=0))
    health.status = 500
    down, up = alarm("web-5xx-a", "ALARM", 10), alarm("web-5xx-a", "OK", 20)
    deliver(world, down)
    deliver(world, down)  # SNS delivered it twice: acts once
    out = deliver(world, with_time(alarm("web-5xx-a", "ALARM", 5), 5))  # older than on record
    assert out["handled"][0]["action"] == "none: older than the state on record"
    assert len(world.commands()) == 2 and len(incidents(world)) == 1
    deliver(world, up)
    deliver(world, up)
    late = alarm("web-5xx-a", "ALARM", 15)  # an ALARM delivered after its OK
    assert deliver(world, late)["handled"][0]["action"] == "none: older than the state on record"
    published = world.published()
    assert Counter(m["kind"] for m in published) == {"opened": 1, "action": 2, "escalated": 1, "recovered": 1}
    assert world.incident("restart-web/*").status == RESOLVED
    assert len(world.commands()) == 2


def test_a_signal_written_beside_a_run_that_just_ended_is_not_lost(make_world, health):
    """The run ends between the handler's read (in flight) and its write to the inbox: nobody
    would fold the signal in, so the handler takes it back and handles it itself."""
    from chalicelib import wiring
    from chalicelib.alarms.ledger import AlarmLedger
    from chalicelib.incidents.alarm import AlarmHandler, handle_sns_event
    from chalicelib.runbooks.inbox import SignalInbox
    from chalicelib.runbooks.incident import Incident, RunPosition

    world = make_world(storm_config(health.url, group_wait=0))
    table, store = world.config.settings.state_table, world.store()
    running = Incident("restart-web/*", "web is failing", time.time(), "x", name="web")
    running.join("web-5xx-a")
    running.run = RunPosition("restart-web", [], heartbeat=time.time())
    store.save(running)

    class EndsOnPut(SignalInbox):
        def put(self, *args, **kwargs):
            super().put(*args, **kwargs)
            ended = store.get("restart-web/*")
            ended.run.state, ended.status = HEALED, RESOLVED
            store.save(ended)

    handler = AlarmHandler(
        world.config,
        store,
        world.engine(wiring.engine_clock()),
        ledger=AlarmLedger(table),
        inbox=EndsOnPut(table),
    )
    event = alarm("web-5xx-b", "ALARM", 1)
    [out] = handle_sns_event(event, world.config, lambda a, rb: handler.handle(a, rb, 10**12))["handled"]
    incident = world.incident("restart-web/*")
    # Handled as a new ALARM: a new incident on the same key, its own run, nothing left waiting.
    assert out["status"] in (OPEN, RESOLVED) and incident.signals == ["web-5xx-b"]
    assert incident.run.runbook == "restart-web" and len(world.commands()) >= 1
    assert not [i for i in world.items() if i["pk"] == "inbox"]


def test_signals_of_one_probe_cycle_each_delivered_once_start_the_run(make_world, health):
    """web, api and realtime fail in one probe cycle and arrive together; a dependent's signal
    may open the incident first. The dependency's signal that lost the race joins at once and
    starts its runbook: no Lambda retry (a minute or more later) is needed."""
    from chalicelib.aws import dynamodb
    from chalicelib.state.store import PARTITION

    world = make_world(storm_config(health.url, group_wait="1s"))
    health.status = 500
    for monitor in ("web", "api", "realtime"):  # as the probe does: the state, then the alarm
        dynamodb.put("autoheal-state", {"pk": PARTITION, "sk": monitor, "status": "DOWN"})
    events = [probe("ALARM", m, 0.1 * i) for i, m in enumerate(("web", "api", "realtime"))]
    deliver_together(world, events, retried=False)
    [incident] = incidents(world)
    assert incident["sk"] == "restart-web/*" and incident["run"]["runbook"] == "restart-web"
    assert len(world.commands()) >= 1  # the restart went out
