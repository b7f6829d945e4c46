"""A hypothesis state machine: people and alarms act on a deployment while the Lambda may die
right after any AWS call; whatever happened, the following `advance` ticks leave the listener at
100% stable or 100% candidate, the record agreeing, nothing left under way, stickiness back."""

from __future__ import annotations

from typing import Any, Callable, Optional

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from chalicelib.deployments.shifter import StartOptions
from chalicelib.deployments.signals import rollback_for
from tests.deployments.conftest import T0, World, died_in

SETTLE_TICKS = 12
# An invocation makes up to ~12 AWS calls: die after one of them, or live (None) half the time.
DEATHS = st.one_of(st.none(), st.integers(min_value=0, max_value=11))


def crash_machine(new_world: Callable[[], World]) -> type[RuleBasedStateMachine]:
    class CrashingShift(RuleBasedStateMachine):
        @initialize()
        def fresh_world(self) -> None:
            self.world = new_world()
            self.crashes = 0
            self.back_since: Optional[float] = None

        def act(self, call: Callable[[], Any], crash: Optional[int]) -> None:
            """Run `call` as one invocation; it dies after its `crash`-th AWS call (None: lives)."""
            self.crashes += died_in(call, crash)
            self.note_going_back()

        def note_going_back(self) -> None:
            """Once a rollback or abort is recorded for a deployment, it must end back on stable."""
            record = self.world.shifter.store.get("web")
            going_back = record is not None and (
                record.state in ("rolled_back", "aborted")
                or (record.intent is not None and record.intent.kind in ("rollback", "abort"))
            )
            if going_back:
                self.back_since = record.started_at

        @rule(strategy=st.sampled_from(["canary", "linear", "all_at_once"]), crash=DEATHS)
        def start(self, strategy: str, crash: Optional[int]) -> None:
            steps = (25,) if strategy == "linear" else None
            options = StartOptions(strategy=strategy, steps=steps)
            self.act(lambda: self.world.shifter.start(self.world.web, options, by="person"), crash)

        @rule(seconds=st.sampled_from([30, 301, 1300]), crash=DEATHS)
        def tick(self, seconds: int, crash: Optional[int]) -> None:
            self.world.clock.tick(seconds)
            self.act(lambda: self.world.shifter.tick(self.world.web), crash)

        @rule(crash=DEATHS)
        def promote(self, crash: Optional[int]) -> None:
            self.act(lambda: self.world.shifter.promote(self.world.web, by="person"), crash)

        @rule(crash=DEATHS)
        def abort(self, crash: Optional[int]) -> None:
            self.act(lambda: self.world.shifter.abort(self.world.web, "test", by="person"), crash)

        @rule(status=st.sampled_from(["UP", "DOWN"]), crash=DEATHS)
        def monitor(self, status: str, crash: Optional[int]) -> None:
            self.world.monitor(status)
            if status == "DOWN":
                deployments = self.world.config.deployments
                self.act(lambda: rollback_for(self.world.shifter, deployments, "web", "DOWN"), crash)

        def teardown(self) -> None:
            if not hasattr(self, "world"):
                return
            type(self).crashes_seen.append(self.crashes)
            world = self.world
            for _ in range(SETTLE_TICKS):
                world.clock.tick(3700)  # past every deadline and the 1h stickiness
                if world.shifter.tick(world.web) is None:
                    break
            record = world.shifter.store.get("web")
            weights = world.weights()
            assert len(weights) == 1 and set(weights.values()) == {100}, weights
            assert world.sticky(), "stickiness must be back on"
            if record is None:
                assert weights == {"web-blue": 100}
                return
            assert not record.in_flight, record
            if self.back_since == record.started_at:
                assert record.state in ("rolled_back", "aborted"), record.history
            serving = record.candidate if record.state == "promoted" else record.stable
            assert weights == {serving: 100}, (record.state, weights)
            assert world.shifter.leases.acquire("listener:web-alb:443", "someone-else", world.clock(), 60)

    return CrashingShift


def test_every_deployment_converges_after_a_crash_anywhere(world: World) -> None:
    def new_world() -> World:
        world.reset_state()
        world.clock.now = T0
        return world

    machine = crash_machine(new_world)
    machine.crashes_seen = []
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=30,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,  # the same examples every run: the crash count below cannot flake
        ),
    )
    # The property is only worth something if deaths really happened mid-way.
    assert sum(machine.crashes_seen) >= 10, machine.crashes_seen
