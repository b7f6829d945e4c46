"""A hypothesis state machine over one listener's writers: shift moves, gate rollbacks, aborts,
promotes, maintenance on and off, a person's change by hand, and Lambda deaths right after any
AWS call. After every step one `advance` tick runs, and then:

- the listener holds its desired state;
- users are on the maintenance page exactly while maintenance is on;
- a promoted version is what serves (beneath the page, if it is up): never an older one.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from chalicelib.aws.elbv2 import Elbv2, comparable, forward_of
from chalicelib.deployments.shifter import StartOptions
from chalicelib.deployments.signals import rollback_for
from chalicelib.handlers.advance import Advance
from chalicelib.listeners.owner import WRITE_LEASE_TTL
from chalicelib.listeners.store import DesiredStore
from tests.deployments.conftest import T0, World, died_in
from tests.deployments.test_one_owner import on_page, page

DEATHS = st.one_of(st.none(), st.none(), st.integers(min_value=0, max_value=9))


def owner_machine(new_world: Callable[[], World]) -> type[RuleBasedStateMachine]:
    class OneOwner(RuleBasedStateMachine):
        @initialize()
        def fresh_world(self) -> None:
            self.world = new_world()
            self.maintenance = False
            self.deaths = 0

        def act(self, call: Callable[[], Any], crash: Optional[int], retried: bool = False) -> None:
            """One invocation that may die after its `crash`-th AWS call; `retried` calls are
            repeated once after a death (Lambda's retry, or the person trying again)."""
            if died_in(call, crash):
                self.deaths += 1
                if retried:
                    self.world.clock.tick(WRITE_LEASE_TTL + 1)  # a dead writer's lease runs out
                    call()

        @rule(crash=DEATHS)
        def start(self, crash: Optional[int]) -> None:
            self.act(lambda: self.world.shifter.start(self.world.web, StartOptions(), by="person"), crash)

        @rule(crash=DEATHS)
        def tick(self, crash: Optional[int]) -> None:
            self.world.clock.tick(301)
            self.act(lambda: self.world.shifter.tick(self.world.web), crash)

        @rule(crash=DEATHS)
        def promote(self, crash: Optional[int]) -> None:
            self.act(lambda: self.world.shifter.promote(self.world.web, by="person"), crash)

        @rule(crash=DEATHS)
        def abort(self, crash: Optional[int]) -> None:
            self.act(lambda: self.world.shifter.abort(self.world.web, "test", by="person"), crash)

        @rule(crash=DEATHS)
        def gate_rollback(self, crash: Optional[int]) -> None:
            deployments = self.world.config.deployments
            self.act(lambda: rollback_for(self.world.shifter, deployments, "web", "DOWN"), crash)

        @rule(crash=DEATHS)
        def maintenance_on(self, crash: Optional[int]) -> None:
            self.act(lambda: page(self.world).divert("upgrade"), crash, retried=True)
            self.maintenance = True

        @rule(crash=DEATHS)
        def maintenance_off(self, crash: Optional[int]) -> None:
            self.act(lambda: page(self.world).restore(), crash, retried=True)
            self.maintenance = False

        @rule()
        def hand_change(self) -> None:
            """A person points the listener at blue; they would not do it during maintenance."""
            if not self.maintenance:
                blue = {"Type": "forward", "TargetGroupArn": self.world.groups["web-blue"]}
                Elbv2().set_default_actions(self.world.listener_arn, [blue])

        @invariant()
        def holds_its_desired_state_after_one_tick(self) -> None:
            if not hasattr(self, "world"):
                return
            world = self.world
            world.clock.tick(30)
            Advance(world.config, world.shifter).invoke()
            live = Elbv2().default_actions(world.listener_arn)
            desired = DesiredStore("autoheal-state").get(world.listener_arn)
            if desired is not None:
                assert comparable(live) == desired.target(), (live, desired)
            assert on_page(world) == self.maintenance, live
            record = world.shifter.store.get("web")
            if record is not None and record.state == "promoted":
                traffic = forward_of(live) or (desired.forward if desired else None)
                assert traffic is not None
                serving = {arn for arn, w in traffic.weights.items() if w}
                if not (desired and desired.by_hand):
                    assert serving == {record.candidate_arn}, (record.history[-3:], traffic)

    return OneOwner


def test_one_owner_keeps_the_listener_right_whatever_the_order(world: World) -> None:
    def new_world() -> World:
        world.reset_state()
        world.clock.now = T0
        return world

    run_state_machine_as_test(
        owner_machine(new_world),
        settings=settings(
            max_examples=12,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        ),
    )
