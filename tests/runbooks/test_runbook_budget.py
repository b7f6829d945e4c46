"""The budget: an app that never recovers, alarmed every 5 minutes for an hour.

One incident runs its runbook once, so each alarm here is a new incident: the alarm goes OK two
minutes after each ALARM (a flapping alarm), which closes the incident, and the next ALARM opens
another.

Time is simulated (the engine's Clock and the handler's clock); AWS is moto and the app is a
real local server answering 500 to every probe.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.alarms.ledger import AlarmLedger
from chalicelib.alarms.message import cloudwatch_time
from chalicelib.incidents.alarm import AlarmHandler, handle_sns_event
from chalicelib.runbooks.budget import BudgetStore
from chalicelib.runbooks.incident import ESCALATED, OPEN, RESOLVED, STOPPED

from .conftest import FakeClock, base_config, set_within

START = 1_714_597_200.0  # 2024-05-01 21:00:00 UTC, a whole second so window edges are exact
EVERY = 300.0  # an alarm every 5 minutes
ALARMS = 12  # for an hour: t = 0, 5, ..., 55 min
PER = 1800.0  # budget {max_runs: 3, per: 30m}

# A run is kept in the window while it is younger than `per` (budget.admit keeps t > now - per),
# so the run from t=0 has left it exactly at t=30m:
#   t= 0,  5, 10  runs 1-3 (each restarts, verifies for 1m, escalates)
#   t=15, 20, 25  refused: 3 runs in the window; the first refusal (t=15) tells people
#   t=30          runs 4 (0 left the window), t=35 run 5 (5 left), t=40 run 6 (10 left)
#   t=45, 50, 55  refused: runs 30, 35, 40 in the window; t=45 is a new exhausted window
#                 (the last notice, at 15, is `per` old), so it tells people once more
EXPECTED_RUNS_AT = [0, 5, 10, 30, 35, 40]  # minutes
EXPECTED_COMMANDS = 6
EXPECTED_BUDGET_NOTICES_AT = [15, 45]  # one per exhausted window


def datetime_of(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def test_an_app_that_never_recovers_is_restarted_only_within_budget(make_world, health):
    health.status = 500
    world = make_world(set_within(base_config(health.url), "restart-web", "1m"))
    clock = FakeClock(START)
    notices = []
    engine = world.engine(clock.clock, notices)
    ledger = AlarmLedger(world.config.settings.state_table)
    handler = AlarmHandler(world.config, world.store(), engine, clock=clock.now, ledger=ledger)

    def process(alarm, runbook):
        return handler.handle(alarm, runbook, deadline=clock.monotonic() + 900)

    commands_after, refused_at = [], []
    for i in range(ALARMS):
        clock.set(i * EVERY)
        event = world.event(
            "alarm-metric-alarm",
            f"hourly-{i:02d}",
            StateChangeTime=cloudwatch_time(datetime_of(clock.now())),
        )
        out = handle_sns_event(event, world.config, process)
        [handled] = out["handled"]
        assert "error" not in handled
        commands_after.append(len(world.commands()))
        if handled["run"] == STOPPED:
            refused_at.append(i * 5)
        else:
            assert handled["run"] == ESCALATED  # verify never passes: every run ends with people
        if i < ALARMS - 1:
            clock.set(i * EVERY + 120)
            ok = world.event(
                "alarm-metric-ok",
                f"hourly-ok-{i:02d}",
                StateChangeTime=cloudwatch_time(datetime_of(clock.now())),
            )
            [cleared] = handle_sns_event(ok, world.config, process)["handled"]
            assert cleared["status"] == RESOLVED

    commands = world.commands()
    assert len(commands) == EXPECTED_COMMANDS
    ran_at = [i * 5 for i in range(ALARMS) if commands_after[i] > (commands_after[i - 1] if i else 0)]
    assert ran_at == EXPECTED_RUNS_AT
    assert refused_at == [15, 20, 25, 45, 50, 55]

    budget_notices = [n for n in notices if n.kind == "budget_exhausted"]
    assert [round((n.at.timestamp() - START) / 60) for n in budget_notices] == EXPECTED_BUDGET_NOTICES_AT
    # ... and they reached people through the notify topic, once each.
    published = world.published()
    assert sum(m["kind"] == "budget_exhausted" for m in published) == len(EXPECTED_BUDGET_NOTICES_AT)
    assert sum(m["kind"] == "action" for m in published) == EXPECTED_COMMANDS
    assert sum(m["kind"] == "opened" for m in published) == ALARMS  # one incident per ALARM
    assert sum(m["kind"] == "recovered" for m in published) == ALARMS - 1
    assert len(published) == len(notices)

    incident = world.incident("web-blue-memory-high")
    assert incident.status == OPEN
    assert incident.run.commands == []  # the last alarm (t=55) was refused
    assert any("budget of restart-web used up (3 runs)" in line for line in incident.story)
    # The window in DynamoDB: the three runs of the second window, per target.
    for target in [world.instances["blue-1"]]:  # the instance the alarm names
        runs = BudgetStore(world.config.settings.state_table).read("restart-web", target)["runs"]
        assert [round((float(t) - START) / 60) for t in runs] == [30, 35, 40]
    assert world.health.requests >= EXPECTED_COMMANDS  # every verify really probed the server
