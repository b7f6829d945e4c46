"""Runbooks on a schedule: started by follow_up when due, one target at a time with a verify
after each, silent when they work, skipped while an incident holds their targets, told when
they fail. Against moto in server mode and the real local health endpoint."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from chalicelib.config.model import Schedule
from chalicelib.incidents.scheduled_runs import schedule_key
from chalicelib.runbooks.incident import OPEN, RESOLVED
from chalicelib.runbooks.schedule import CATCH_UP_SECONDS, due
from tests.runbooks.conftest import base_config

EVERY_MINUTE = {"cron": "* * * * *", "time_zone": "Europe/Berlin"}


def scheduled_config(health_url: str) -> dict[str, Any]:
    config = copy.deepcopy(base_config(health_url))
    config["runbooks"]["restart-fleet"]["schedule"] = EVERY_MINUTE
    return config


def targets_of(command: dict[str, Any]) -> list[str]:
    return list(command["InstanceIds"])


def test_a_due_schedule_restarts_every_target_one_at_a_time_and_tells_nobody(make_world, health):
    world = make_world(scheduled_config(health.url))

    done = world.follow_up()

    commands = sorted(world.commands(), key=lambda c: c["RequestedDateTime"])
    assert done["started"] == ["restart-fleet"]
    assert [len(targets_of(c)) for c in commands] == [1, 1, 1]
    assert sorted(t for c in commands for t in targets_of(c)) == world.everyone
    incident = world.incident(schedule_key("restart-fleet"))
    assert incident.status == RESOLVED and incident.run.state == "healed"
    assert any("on to wave 3 of 3" in line for line in incident.story)
    assert world.published() == []

    again = world.follow_up()  # the same fire time: already run
    assert "started" not in again or again["started"] == []
    assert len(world.commands()) == 3


def test_a_scheduled_run_that_breaks_the_first_target_stops_there_and_says_so(make_world, health):
    world = make_world(scheduled_config(health.url))
    health.status = 503  # the app does not come back after the restart

    world.follow_up()

    commands = world.commands()
    assert len(commands) == 1 and len(targets_of(commands[0])) == 1
    incident = world.incident(schedule_key("restart-fleet"))
    assert incident.status == RESOLVED and incident.run.state == "escalated"
    assert world.kinds() == ["escalated"]
    assert world.follow_up().get("reminded", []) == []  # told once; no reminders about it


def test_a_schedule_is_skipped_while_an_incident_is_open_for_its_targets(make_world, health):
    world = make_world(scheduled_config(health.url))
    health.status = 503
    world.on_alarm(world.event("alarm-metric-alarm", message_id="m-1"))  # restart-web, blue-1
    before = len(world.commands())
    assert [i.status for i in world.store().needing_follow_up()] == [OPEN]
    world.published()

    done = world.follow_up()

    assert done["skipped"] == ["restart-fleet"]
    assert len(world.commands()) == before
    skipped = world.incident(schedule_key("restart-fleet"))
    assert skipped.status == RESOLVED and any("skipped" in line for line in skipped.story)


def test_a_bad_schedule_names_the_key_and_what_was_expected(make_world, health, tmp_path):
    from chalicelib.config import ConfigError, load_config

    config = scheduled_config(health.url)
    config["runbooks"]["restart-fleet"]["schedule"] = {"cron": "0 25 * * *", "time_zone": "Mars/Olympus"}
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(str(path))
    text = str(raised.value)
    assert "runbooks.restart-fleet.schedule.cron: expected a cron expression" in text
    assert "runbooks.restart-fleet.schedule.time_zone: expected an IANA time zone" in text


@pytest.mark.parametrize(
    ("now", "last", "expected"),
    [
        (3 * 3600 + 5, None, 3 * 3600.0),  # just after 03:00
        (3 * 3600 + CATCH_UP_SECONDS - 1, None, 3 * 3600.0),  # a late tick still runs it
        (3 * 3600 + CATCH_UP_SECONDS + 1, None, None),  # too late: skipped, not run at noon
        (3 * 3600 + 5, 3 * 3600.0, None),  # already run
        (2 * 3600 + 59 * 60, None, None),  # not yet
    ],
)
def test_due_is_the_latest_match_not_yet_run_within_the_catch_up(now, last, expected):
    assert due(Schedule("0 3 * * *"), last, now) == expected


def test_due_follows_local_time_across_a_daylight_saving_change():
    berlin = Schedule("30 2 * * *", "Europe/Berlin")
    # 2025-03-30: 02:30 does not exist in Berlin (02:00 -> 03:00), so it runs at 03:00;
    # 2025-10-26: 02:30 happens twice, and it runs once.
    spring = 1743296400.0  # 2025-03-30T01:00:00Z = 03:00 CEST, the first time that exists
    assert due(berlin, None, spring + 60) == spring
    autumn_first = 1761438600.0  # 2025-10-26T00:30:00Z = 02:30 CEST
    assert due(berlin, None, autumn_first + 60) == autumn_first
    assert due(berlin, autumn_first, autumn_first + 3600 + 60) is None  # not a second time


def test_a_claim_whose_invocation_died_before_the_run_began_is_started_and_nobody_reminded(
    make_world, health
):
    import time

    from chalicelib.runbooks.incident import Incident

    world = make_world(scheduled_config(health.url))
    fire = due(Schedule(**EVERY_MINUTE), None, time.time())
    world.store().save(Incident(schedule_key("restart-fleet"), "scheduled restart-fleet", fire, "schedule"))

    done = world.follow_up()

    assert done["started"] == ["restart-fleet"] and done["reminded"] == []
    assert len(world.commands()) == 3
    assert world.incident(schedule_key("restart-fleet")).status == RESOLVED
    assert world.published() == []


def test_the_follow_up_that_loses_the_claim_race_stands_down_and_nobody_is_paged(make_world, health):
    """Two follow_ups overlap: the second reads the first's claim before that run's first
    checkpoint. Before, it took the claim for a dead one and started the run too; one of them
    then lost a version check mid-step and paged "step 1 failed: IncidentConflict"."""
    from chalicelib import wiring
    from chalicelib.incidents.follow_up import FollowUp
    from chalicelib.incidents.scheduled_runs import ScheduledRuns

    world = make_world(scheduled_config(health.url))
    first = FollowUp(world.config, world.store(), world.engine(wiring.engine_clock()))
    second = FollowUp(world.config, world.store(), world.engine(wiring.engine_clock()))
    second_said = []
    resolve_targets = first.engine.actions.resolve

    def resolve_while_another_follow_up_runs(targets):
        if not second_said:  # the first has claimed the fire time; its run has not begun
            second_said.append(ScheduledRuns(second).start_due([], time.monotonic() + 60))
        return resolve_targets(targets)

    first.engine.actions.resolve = resolve_while_another_follow_up_runs
    done = ScheduledRuns(first).start_due([], time.monotonic() + 60)

    assert second_said == [{"started": [], "skipped": []}]
    assert done["started"] == ["restart-fleet"]
    incident = world.incident(schedule_key("restart-fleet"))
    assert incident.status == RESOLVED and incident.run.state == "healed"
    assert sorted(t for c in world.commands() for t in targets_of(c)) == world.everyone
    assert world.published() == []  # nobody paged


def dead_claim(world, legacy: bool = False) -> None:
    """A claim whose follow_up died before the run began, its heartbeat long quiet (`legacy`:
    written without a run at all)."""
    from chalicelib.incidents.scheduled_runs import claimed_run
    from chalicelib.runbooks.incident import STALE_RUN_SECONDS, Incident

    now = time.time()
    fire = due(Schedule(**EVERY_MINUTE), None, now)
    claim = Incident(schedule_key("restart-fleet"), "scheduled restart-fleet", fire, "schedule")
    claim.run = None if legacy else claimed_run("restart-fleet", now - STALE_RUN_SECONDS - 1)
    world.store().save(claim)


def test_a_stale_claim_is_started_by_the_next_follow_up_and_nobody_reminded(make_world, health):
    world = make_world(scheduled_config(health.url))
    dead_claim(world)

    done = world.follow_up()

    assert done["started"] == ["restart-fleet"] and done["resumed"] == done["reminded"] == []
    assert sorted(t for c in world.commands() for t in targets_of(c)) == world.everyone
    assert world.incident(schedule_key("restart-fleet")).status == RESOLVED
    assert world.published() == []


@pytest.mark.parametrize("legacy", [False, True], ids=["stale", "without-run"])
def test_of_two_follow_ups_taking_over_a_dead_claim_one_starts_and_nobody_is_paged(
    make_world, health, legacy
):
    from chalicelib import wiring
    from chalicelib.incidents.follow_up import FollowUp
    from chalicelib.incidents.scheduled_runs import ScheduledRuns

    world = make_world(scheduled_config(health.url))
    dead_claim(world, legacy)
    first = FollowUp(world.config, world.store(), world.engine(wiring.engine_clock()))
    second = FollowUp(world.config, world.store(), world.engine(wiring.engine_clock()))
    read_at_once = world.store().get(schedule_key("restart-fleet"))  # both read the dead claim
    second.incidents.get = lambda key: copy.deepcopy(read_at_once)

    done = ScheduledRuns(first).start_due([], time.monotonic() + 60)
    said = ScheduledRuns(second).start_due([], time.monotonic() + 60)

    assert done["started"] == ["restart-fleet"] and said == {"started": [], "skipped": []}
    incident = world.incident(schedule_key("restart-fleet"))
    assert incident.status == RESOLVED and incident.run.state == "healed"
    assert len(world.commands()) == 3  # one run: every target once
    assert world.published() == []  # nobody paged
