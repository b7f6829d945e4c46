"""The runbook engine's decisions, without AWS: fake actions, a fake clock, in-memory ledgers."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pytest

from chalicelib.aws.ssm import InvocationResult
from chalicelib.config import parse_config
from chalicelib.probe.result import ProbeResult
from chalicelib.runbooks.engine import Clock, RunbookEngine
from chalicelib.runbooks.incident import ESCALATED, HEALED, PAUSED, RESOLVED, STOPPED, Incident, RunPosition
from chalicelib.runbooks.scope import SignalScope, wave_size
from tests.support.memory_stores import MemoryBudget, MemoryLeases

CONFIG = parse_config(
    """
settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}
monitors:
  - {name: web, url: 'http://127.0.0.1:9/healthz', timeout: 1s, retries: 0, success_threshold: 2}
runbooks:
  heal:
    targets: {tag: {app: web}}
    budget: {max_runs: 2, per: 30m}
    steps:
      - restart: {service: web, manager: systemd}
      - verify: {monitors: [web], within: 20s}
      - reboot: {}
      - verify: {monitors: [web], within: 20s}
      - escalate: {}
"""
)


class FakeTime:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def clock(self) -> Clock:
        return Clock(now=lambda: self.t, monotonic=lambda: self.t, sleep=self.sleep)

    def sleep(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class FakeActions:
    targets: list[str] = field(default_factory=lambda: ["i-0aaaaaaaaaaaaaaaa"])
    calls: list[tuple] = field(default_factory=list)

    sent: dict[str, str] = field(default_factory=dict)  # command id -> comment, as SSM keeps them
    named_by_signal: list[str] = field(default_factory=list)

    def resolve(self, targets):
        return list(self.targets)

    def named(self, scope):
        return list(scope.instance_ids) or list(self.named_by_signal)

    def send(self, document, instance_ids, parameters, comment, max_concurrency=1):
        self.calls.append(("send", document, tuple(instance_ids), dict(parameters)))
        command_id = f"cmd-{len(self.calls)}"
        self.sent[command_id] = comment
        return command_id

    def find_command(self, token, sent_after):
        return next((cid for cid, comment in self.sent.items() if token in comment), None)

    def wait(self, command_id, instance_ids, until):
        return [InvocationResult(i, "Success", "restarted\n") for i in instance_ids]

    def reboot(self, instance_ids):
        self.calls.append(("reboot", tuple(instance_ids)))

    def replace(self, instance_ids):
        self.calls.append(("replace", tuple(instance_ids)))


class Verifier:
    """Answers probe results from a script: healthy after the given number of calls."""

    def __init__(self, healthy_after: float, time: FakeTime) -> None:
        self.healthy_after, self.calls, self.time = healthy_after, 0, time

    def __call__(self, monitors, deadline):
        self.calls += 1
        self.time.t += 0.5
        ok = self.calls > self.healthy_after
        return [
            ProbeResult(m.name, ok, 5.0, None if ok else "timeout after 1s", 1, self.time.t) for m in monitors
        ]


@pytest.fixture
def world():
    time = FakeTime()
    notices: list = []
    parts = {"time": time, "actions": FakeActions(), "budget": MemoryBudget(), "leases": MemoryLeases()}

    def engine(healthy_after: float) -> RunbookEngine:
        parts["verifier"] = Verifier(healthy_after, time)
        return RunbookEngine(
            CONFIG,
            parts["actions"],
            parts["verifier"],
            parts["budget"],
            parts["leases"],
            notices.append,
            time.clock(),
        )

    parts["engine"], parts["notices"] = engine, notices
    return parts


def incident(time: FakeTime, key: str = "web") -> Incident:
    return Incident(key, f"{key} is failing", time.t, "timeout")


def test_restart_then_verified_heals_and_releases_the_lease(world):
    engine, time = world["engine"](healthy_after=1), world["time"]
    case = incident(time)
    engine.start(case, "heal", deadline=time.t + 300)
    assert case.run.state == HEALED and case.status == RESOLVED
    assert world["actions"].calls == [
        ("send", "autoheal-restart", ("i-0aaaaaaaaaaaaaaaa",), {"service": ["web"], "manager": ["systemd"]})
    ]
    assert [n.kind for n in world["notices"]] == ["action", "recovered"]
    assert world["notices"][0].command_id == "cmd-1" and world["notices"][1].downtime_s > 0
    assert world["leases"].held == {}
    assert any("(restarted)" in line for line in case.story)


def test_a_failed_verify_moves_to_the_bigger_hammer_then_escalates(world):
    engine, time = world["engine"](healthy_after=10_000), world["time"]
    case = incident(time)
    engine.start(case, "heal", deadline=time.t + 600)
    assert [c[0] for c in world["actions"].calls] == ["send", "reboot"]
    assert case.run.state == ESCALATED and case.status != RESOLVED
    assert [n.kind for n in world["notices"]] == ["action", "action", "escalated"]
    assert sum("verify failed within 20s: web: timeout after 1s" in line for line in case.story) == 2


def test_the_run_pauses_before_the_deadline_and_resumes_where_it_was(world):
    engine, time = world["engine"](healthy_after=5), world["time"]
    case = incident(time)
    engine.start(case, "heal", deadline=time.t + 12)
    assert case.run.state == PAUSED and case.run.step == 1
    started = case.run.step_started_at
    assert started is not None and time.t < started + 20
    engine.resume(case, deadline=time.t + 300)
    assert case.run.state == HEALED and case.run.step == 1, "healed by the same verify, resumed"
    assert case.run.step_started_at == started, "the resumed verify kept its window"
    assert [c[0] for c in world["actions"].calls] == ["send"], "a resumed run never restarts twice"


def test_the_budget_stops_acting_and_tells_people_once(world):
    engine, time = world["engine"](healthy_after=10_000), world["time"]
    kinds = []
    for _ in range(4):
        case = incident(time)
        engine.start(case, "heal", deadline=time.t + 600)
        kinds.append(case.run.state)
        time.t += 60
    assert kinds == [ESCALATED, ESCALATED, STOPPED, STOPPED]
    assert [c[0] for c in world["actions"].calls].count("send") == 2
    assert sum(n.kind == "budget_exhausted" for n in world["notices"]) == 1


def test_a_target_leased_by_another_run_is_left_alone(world):
    engine, time = world["engine"](healthy_after=0), world["time"]
    assert world["leases"].acquire("i-0aaaaaaaaaaaaaaaa", "someone-else", time.t, 180)
    case = incident(time)
    engine.start(case, "heal", deadline=time.t + 300)
    assert case.run.state == STOPPED and world["actions"].calls == []
    assert any("another runbook is acting on it" in line for line in case.story)


def test_a_step_that_fails_escalates_with_the_error(world):
    engine, time = world["engine"](healthy_after=0), world["time"]

    def broken(*args):
        raise RuntimeError("AccessDenied on SendCommand")

    world["actions"].send = broken
    case = incident(time)
    engine.start(case, "heal", deadline=time.t + 300)
    assert case.run.state == ESCALATED
    assert "step 1 (restart) failed: RuntimeError: AccessDenied on SendCommand" in world["notices"][-1].title
    assert world["leases"].held == {}


def test_no_targets_found_escalates_without_acting(world):
    engine, time = world["engine"](healthy_after=0), world["time"]
    world["actions"].targets = []
    case = incident(time)
    engine.start(case, "heal", deadline=time.t + 300)
    assert case.run.state == ESCALATED and world["actions"].calls == []
    assert "no targets found" in world["notices"][-1].title


def test_leases_are_all_or_nothing_so_two_runs_never_split_a_target_set(world):
    engine, time = world["engine"](healthy_after=0), world["time"]
    world["actions"].targets = ["i-0bbbbbbbbbbbbbbbb", "i-0aaaaaaaaaaaaaaaa"]
    assert world["leases"].acquire("i-0bbbbbbbbbbbbbbbb", "someone-else", time.t, 180)
    case = incident(time)
    engine.start(case, "heal", deadline=time.t + 300)
    assert world["actions"].calls == []
    owners = {target: owner for target, (owner, _) in world["leases"].held.items()}
    assert owners == {"i-0bbbbbbbbbbbbbbbb": "someone-else"}, "the first lease was let go"


TIER = ["i-0aaaaaaaaaaaaaaaa", "i-0bbbbbbbbbbbbbbbb", "i-0cccccccccccccccc"]


def sent_to(actions: FakeActions) -> list[tuple[str, tuple[str, ...]]]:
    return [(call[0], call[2] if call[0] == "send" else call[1]) for call in actions.calls]


def test_a_tier_signal_acts_one_target_at_a_time_and_stops_once_healed(world):
    world["actions"].targets = list(TIER)
    # Each verify makes 8 checks in its 20 s: the third check of the second wave's verify passes.
    engine, time = world["engine"](healthy_after=9), world["time"]
    case = incident(time)
    engine.start(case, "heal", deadline=time.t + 600)
    assert case.run.state == HEALED
    assert case.run.waves == [[TIER[0]], [TIER[1]], [TIER[2]]]
    assert sent_to(world["actions"]) == [("send", (TIER[0],)), ("send", (TIER[1],))], (
        "the third was never touched"
    )


def test_the_bigger_hammer_also_rolls_one_target_at_a_time(world):
    world["actions"].targets = TIER[:2]
    engine, time = world["engine"](healthy_after=10_000), world["time"]
    case = incident(time)
    engine.start(case, "heal", deadline=time.t + 900)
    assert sent_to(world["actions"]) == [
        ("send", (TIER[0],)),
        ("send", (TIER[1],)),
        ("reboot", (TIER[0],)),
        ("reboot", (TIER[1],)),
    ]
    assert case.run.state == ESCALATED


def test_an_alarm_naming_one_instance_acts_on_it_alone(world):
    world["actions"].targets = list(TIER)
    engine, time = world["engine"](healthy_after=0), world["time"]
    case = incident(time)
    engine.start(case, "heal", deadline=time.t + 300, scope=SignalScope(instance_ids=(TIER[1],)))
    assert case.run.state == HEALED
    assert sent_to(world["actions"]) == [("send", (TIER[1],))]


def test_an_alarm_naming_an_instance_outside_the_runbook_acts_on_nothing_and_says_so(world):
    world["actions"].targets = TIER[:2]
    engine, time = world["engine"](healthy_after=0), world["time"]
    case = incident(time)
    engine.start(
        case, "heal", deadline=time.t + 300, scope=SignalScope(instance_ids=("i-0ffffffffffffffff",))
    )
    assert world["actions"].calls == [] and world["leases"].held == {}
    assert case.run.state == ESCALATED
    assert "not among the targets of heal" in world["notices"][-1].title
    assert any("i-0ffffffffffffffff, outside the targets of heal: left alone" in line for line in case.story)


def test_a_run_resumed_after_dying_between_send_and_checkpoint_finds_its_command(world):
    """The checkpoint after SendCommand is lost: the resumed run finds the command by its token."""
    engine, time = world["engine"](healthy_after=0), world["time"]
    saved: list[dict] = []

    def checkpoint(case: Incident) -> None:
        if case.run.step_data.get("command_id"):
            raise SystemExit("the Lambda dies right after SendCommand")
        saved.append(copy.deepcopy(case.to_item()))

    case = incident(time)
    with pytest.raises(SystemExit):
        engine.start(case, "heal", deadline=time.t + 300, checkpoint=checkpoint)
    revived = Incident.from_item(saved[-1])
    assert revived.run.step_data.get("token") and "command_id" not in revived.run.step_data
    engine.resume(revived, deadline=time.t + 300)
    assert [c[0] for c in world["actions"].calls] == ["send"], "found, not sent again"
    assert revived.run.commands == ["cmd-1"] and revived.run.state == HEALED


def test_a_reboot_interrupted_mid_call_is_not_repeated(world):
    world["actions"].targets = TIER[:1]
    engine, time = world["engine"](healthy_after=10_000), world["time"]
    case = incident(time)
    case.run = RunPosition("heal", TIER[:1], step=2, waves=[TIER[:1]], step_data={"intent": True})
    engine.resume(case, deadline=time.t + 300)
    assert world["actions"].calls == []
    assert any("reboot requested may not have happened" in line for line in case.story)


def test_a_budget_store_failing_after_the_leases_were_taken_gives_them_back(world):
    engine, time = world["engine"](healthy_after=0), world["time"]
    world["actions"].targets = TIER[:2]

    def broken(*args):
        raise RuntimeError("ProvisionedThroughputExceededException")

    world["budget"].spend = broken
    with pytest.raises(RuntimeError):
        engine.start(incident(time), "heal", deadline=time.t + 300)
    assert world["leases"].held == {} and world["actions"].calls == []


@pytest.mark.parametrize(
    ("max_concurrent", "max_share", "tier", "expected"),
    [(1, 0.5, 4, 1), (3, 0.5, 4, 2), (3, 1.0, 2, 2), (5, 0.5, 1, 1), (2, 0.1, 10, 1)],
)
def test_wave_size_never_exceeds_max_concurrent_nor_max_share(max_concurrent, max_share, tier, expected):
    assert wave_size(max_concurrent, max_share, tier) == expected
