"""Two alarms for the same instances at the same time: one lease, one restart in flight."""

from __future__ import annotations

import threading

from chalicelib.runbooks.incident import ESCALATED, STOPPED

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
        try:
            results[name] = world.on_alarm(event)["handled"][0]
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=invoke, args=item) for item in events.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(results) == 2

    [command] = world.commands()  # one restart, not two
    assert command["Parameters"] == RESTART_WEB and command["InstanceIds"] == [world.instances["blue-1"]]
    acted = [name for name, r in results.items() if r["commands"]]
    assert len(acted) == 1
    [left] = set(events) - set(acted)
    winner, loser = world.incident(acted[0]), world.incident(left)
    assert winner.run.commands == [command["CommandId"]] and winner.run.state == ESCALATED
    assert loser.run.state == STOPPED and loser.run.commands == [] and loser.run.targets == []
    assert sum(ANOTHER in line for line in loser.story) == 1
    assert not any(ANOTHER in line for line in winner.story)
    assert world.health.requests >= 1


def test_the_lease_is_released_when_the_run_ends(world):
    world.on_alarm(world.event("alarm-metric-alarm"))  # heals: the lease goes with the run
    world.on_alarm(world.event("alarm-metric-math"))
    assert len(world.commands()) == 2
    assert not [item for item in world.items() if item["pk"] == "lease"]
