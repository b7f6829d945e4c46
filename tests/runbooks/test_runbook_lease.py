"""Two alarms for the same instances at the same time: one incident, one restart in flight."""

from __future__ import annotations

import threading

from chalicelib.runbooks.incident import ESCALATED
from chalicelib.runbooks.incident_store import IncidentConflict

from .conftest import RESTART_WEB, base_config, set_within

ANOTHER = "another runbook is acting on it"


def test_two_alarms_on_one_target_restart_it_once(make_world, health):
    world = make_world(set_within(base_config(health.url), "restart-web", "2s"))
    world.health.hang = 2.0  # the app hangs: every probe times out (1s), verify takes its 2s
    events = {
        "web-blue-memory-high": world.event("alarm-metric-alarm"),  # restart-web by "web-*-memory-high"
        # restart-web by "web-5xx-*", naming the same instance (blue-1)
        "web-5xx-rate-high": world.event("alarm-metric-alarm", AlarmName="web-5xx-rate-high"),
    }
    start = threading.Barrier(len(events))
    results, errors = {}, []

    def invoke(name, event):
        start.wait()
        for _ in range(2):  # Lambda retries an event whose handling raised
            try:
                results[name] = world.on_alarm(event)["handled"][0]
                return
            except IncidentConflict:  # both opened the incident: the one that lost is retried
                continue
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
                return

    threads = [threading.Thread(target=invoke, args=item) for item in events.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(results) == 2

    [command] = world.commands()  # one restart, not two
    assert command["Parameters"] == RESTART_WEB and command["InstanceIds"] == [world.instances["blue-1"]]
    # Both name blue-1 for restart-web: one incident; the later one joined the run's story.
    assert {r["incident"] for r in results.values()} == {f"restart-web/{world.instances['blue-1']}"}
    incident = world.incident(f"restart-web/{world.instances['blue-1']}")
    assert incident.run.commands == [command["CommandId"]] and incident.run.state == ESCALATED
    assert sorted(incident.signals) == sorted(events)
    assert not any(ANOTHER in line for line in incident.story)
    assert [m["kind"] for m in world.published()].count("opened") == 1
    assert world.health.requests >= 1


def test_the_lease_is_released_when_the_run_ends(world):
    world.on_alarm(world.event("alarm-metric-alarm"))  # heals: the lease goes with the run
    world.on_alarm(world.event("alarm-metric-math"))
    assert len(world.commands()) == 2
    assert not [item for item in world.items() if item["pk"] == "lease"]
