"""Runs that outlive one invocation: on_alarm pauses before its deadline and records where it
is; the `follow_up` function continues from the same step. And reminders while it stays open."""

from __future__ import annotations

import re
import threading
import time

from chalicelib.incidents.follow_up import FollowUp
from chalicelib.runbooks.incident import ESCALATED, HEALED, OPEN, PAUSED, RESOLVED, RUNNING

from .conftest import FakeClock, base_config, probe_event, set_within

KEY = "web-blue-memory-high"  # the alarm: its incident is restart-web/<blue-1>
VERIFY = 1  # the verify step's index in restart-web


def paused_incident(world):
    """An ALARM handled by an invocation with 8 s left: the restart goes out, then verify (5m)
    cannot fit in what remains, so the run pauses at verify."""
    out = world.on_alarm(world.event("alarm-metric-alarm"), runtime_s=8)
    assert out["handled"][0]["run"] == PAUSED
    incident = world.incident(KEY)
    assert incident.status == OPEN
    assert (incident.run.state, incident.run.step) == (PAUSED, VERIFY)
    assert incident.run.step_started_at is not None  # within counts from the first invocation
    assert len(incident.run.commands) == 1 and len(world.commands()) == 1
    assert any("continues on the next tick" in line for line in incident.story)
    assert world.kinds() == ["action", "opened"]
    return incident


def slow_verify_world(make_world, health):
    return make_world(set_within(base_config(health.url), "restart-web", "5m"))


def test_paused_run_is_healed_by_follow_up_when_the_app_recovered(make_world, health):
    world = slow_verify_world(make_world, health)
    health.status = 500
    paused = paused_incident(world)
    # kept: the alarm names blue-1, so the run holds blue-1 alone
    assert [item["sk"] for item in world.items() if item["pk"] == "lease"] == [world.instances["blue-1"]]

    health.status = 200  # recovered meanwhile
    out = world.follow_up()
    assert (out["resumed"], out["reminded"], out["errors"]) == ([world.incident(KEY).key], [], [])
    incident = world.incident(KEY)
    assert (incident.status, incident.run.state) == (RESOLVED, HEALED)
    assert incident.run.step == VERIFY and incident.run.step_started_at == paused.run.step_started_at
    assert incident.run.commands == paused.run.commands  # continued: the restart is not sent again
    assert len(world.commands()) == 1
    assert world.kinds() == ["recovered"]
    assert not [item for item in world.items() if item["pk"] == "lease"]  # released at the end
    assert not any(world.follow_up().values())  # nothing left


def test_paused_run_is_escalated_by_follow_up_when_the_app_stays_down(make_world, health):
    world = slow_verify_world(make_world, health)
    health.status = 500
    paused = paused_incident(world)

    # follow_up, minutes later and for the whole 5m verify: simulated time, real probes.
    clock = FakeClock()
    clock.set(60)
    notices = []
    follow_up = FollowUp(world.config, world.store(), world.engine(clock.clock, notices), clock=clock.now)
    out = follow_up.invoke(deadline=clock.monotonic() + 900)
    assert (out["resumed"], out["reminded"], out["errors"]) == ([world.incident(KEY).key], [], [])

    incident = world.incident(KEY)
    assert incident.status == OPEN and incident.run.state == ESCALATED
    assert incident.run.commands == paused.run.commands and len(world.commands()) == 1
    assert any("verify failed within 300s" in line for line in incident.story)
    # The verify kept its deadline from the first invocation: it ended 5m after it started.
    assert 300 <= clock.now() - paused.run.step_started_at < 300 + 5
    assert [n.kind for n in notices] == ["escalated"]
    assert world.kinds() == ["escalated"]
    assert health.requests > 50  # ~150 verify cycles of 2 s in 5 simulated minutes


def test_follow_up_pauses_again_when_it_too_runs_out_of_time(make_world, health):
    world = slow_verify_world(make_world, health)
    health.status = 500
    paused = paused_incident(world)
    out = world.follow_up(runtime_s=6)  # not even one verify cycle fits before the reserve
    assert out["resumed"] == [world.incident(KEY).key]
    incident = world.incident(KEY)
    assert (incident.run.state, incident.run.step) == (PAUSED, VERIFY)
    assert incident.run.step_started_at == paused.run.step_started_at
    assert len(world.commands()) == 1 and world.published() == []


def test_ok_while_paused_stops_the_run_and_closes(make_world, health):
    world = slow_verify_world(make_world, health)
    health.status = 500
    paused_incident(world)
    world.on_alarm(world.event("alarm-metric-ok"))
    incident = world.incident(KEY)
    assert incident.status == RESOLVED and incident.run.state == "stopped"
    assert world.kinds() == ["recovered"]
    assert not [item for item in world.items() if item["pk"] == "lease"]
    assert world.follow_up()["resumed"] == []  # nothing to continue


def test_a_three_second_invocation_restarts_and_leaves_verify_to_the_next_tick(world):
    """The Chalice test client's 3 s: the reserve shrinks to a share of it, the restart goes out,
    and verify (a cycle longer than what is left) is recorded for follow_up."""
    out = world.on_alarm(world.event("alarm-metric-alarm"), runtime_s=3)
    assert out["handled"][0]["run"] == PAUSED
    assert len(world.commands()) == 1
    assert world.incident(KEY).run.step == 1
    world.follow_up()  # the next tick, with time: verify (app healthy), healed
    assert len(world.commands()) == 1, "the restart is not sent again"
    assert world.incident(KEY).status == RESOLVED


# --- reminders --------------------------------------------------------------------------------


def test_reminders_while_an_incident_stays_open(world):
    world.on_alarm(probe_event("ALARM", "api", "api-down"))  # api has no runbook: open, told once
    assert world.kinds() == ["opened"]
    opened = world.incident("api")
    clock = FakeClock(opened.last_notified_at)
    follow_up = FollowUp(world.config, world.store(), world.engine(clock.clock), clock=clock.now)

    reminded_at = []
    for minutes in (1, 9, 9.99, 10, 11, 19, 20, 25, 30):  # settings.remind_every: 10m
        clock.set(minutes * 60)
        if follow_up.invoke(deadline=clock.monotonic() + 60)["reminded"] == ["component/api"]:
            reminded_at.append(minutes)
    assert reminded_at == [10, 20, 30]
    published = world.published()
    assert [m["kind"] for m in published] == ["reminder"] * 3
    # Counted from the opening, which a loaded machine may tell a second after it opened.
    assert re.fullmatch(r"\[autoheal\] api still failing after (10m|60\ds)", published[0]["Subject"])
    assert world.incident("api").last_notified_at == clock.now()

    world.on_alarm(probe_event("OK", "api", "api-up"))
    assert world.incident("api").status == RESOLVED
    world.published()
    clock.set(120 * 60)
    assert follow_up.invoke(deadline=clock.monotonic() + 60)["reminded"] == []  # closed: quiet
    assert world.published() == []


def test_no_reminder_is_written_over_a_run_in_flight(make_world, health):
    """A reminder must not write an incident whose runbook another invocation is running:
    that invocation's next checkpoint would hit the version check and its run would die
    half-way (no escalation, lease held, incident stuck 'running' for 16 minutes)."""
    config = set_within(base_config(health.url), "restart-web", "3s")
    config["settings"]["remind_every"] = "1m"
    world = make_world(config)
    health.status = 500
    results = {}
    alarm = threading.Thread(
        target=lambda: results.update(out=world.on_alarm(world.event("alarm-metric-alarm"))), daemon=True
    )
    alarm.start()
    for _ in range(100):  # until the run is verifying
        incident = world.incident(KEY)
        if incident is not None and incident.run is not None and incident.run.step == VERIFY:
            break
        time.sleep(0.05)
    assert incident.run.state == RUNNING

    clock = FakeClock()
    clock.set(2 * 60)  # a reminder is due (1m), and the run is not yet stale (3m without a heartbeat)
    follow_up = FollowUp(world.config, world.store(), world.engine(clock.clock), clock=clock.now)
    assert follow_up.invoke(deadline=clock.monotonic() + 60)["reminded"] == []
    alarm.join(30)

    [handled] = results["out"]["handled"]
    assert "error" not in handled, handled
    incident = world.incident(KEY)
    assert incident.run.state == ESCALATED  # the run finished
    assert not [item for item in world.items() if item["pk"] == "lease"]


# --- nothing lost -------------------------------------------------------------------------------


def test_follow_up_never_resumes_a_run_whose_target_another_run_now_holds(make_world, health):
    from chalicelib.leases import Leases

    world = slow_verify_world(make_world, health)
    health.status = 500
    paused = paused_incident(world)
    target = paused.run.targets[0]
    leases = Leases(world.config.settings.state_table)
    leases.release(target, paused.run.lease_owner)  # as if its lease had run out...
    assert leases.acquire(target, "another-run@1", time.time(), 180)  # ...and another took it

    out = world.follow_up()

    assert out["resumed"] == [world.incident(KEY).key]
    incident = world.incident(KEY)
    assert incident.run.state == ESCALATED
    assert any("held by another run" in line for line in incident.story)
    assert len(world.commands()) == 1  # nothing sent beside the other run
    assert world.kinds() == ["escalated"]
    held = [i for i in world.items() if i["pk"] == "lease"]
    assert [(i["sk"], i["owner"]) for i in held] == [(target, "another-run@1")]


def test_an_ok_that_arrives_while_the_run_acts_is_honoured_when_it_ends(world, health):
    health.status, health.hang = 500, 0.4  # verify probes take a while and fail
    running = threading.Thread(target=world.on_alarm, args=(world.event("alarm-metric-alarm", "alarm"),))
    running.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        incident = world.incident(KEY)
        if incident is not None and incident.run is not None and incident.run.state == RUNNING:
            break
        time.sleep(0.05)
    ok = world.event("alarm-metric-ok", "ok-during-the-run", StateChangeTime="2024-05-01T21:09:04.512+0000")
    answer = world.on_alarm(ok)
    running.join(30)

    assert answer["handled"][0]["action"] == "joined: a runbook is running"
    incident = world.incident(KEY)
    assert incident.status == RESOLVED, incident.story[-4:]
    assert "recovered" in world.kinds()


def test_a_notification_sns_refused_is_sent_by_follow_up_and_counted(world, health, capsys):
    from chalicelib.aws.clients import client

    sns = client("sns")

    def refuse(**_):
        raise sns.exceptions.InternalErrorException(
            {"Error": {"Code": "InternalError", "Message": "injected"}}, "Publish"
        )

    health.status = 500
    sns.meta.events.register("before-call.sns.Publish", refuse, unique_id="refuse-publish")
    try:
        world.on_alarm(world.event("alarm-metric-alarm"))
    finally:
        sns.meta.events.unregister("before-call.sns.Publish", unique_id="refuse-publish")
    incident = world.incident(KEY)
    assert world.published() == []
    assert [entry["notice"]["kind"] for entry in incident.unsent] == ["opened", "action", "escalated"]
    assert '"NotificationFailures"' in capsys.readouterr().out  # the EMF metric an alarm can watch

    out = world.follow_up()

    assert (out["resent"], out["errors"]) == ([world.incident(KEY).key], [])
    assert world.kinds() == ["action", "escalated", "opened"]
    assert world.incident(KEY).unsent == []
