"""One owner per listener (issue 17, cases 1-4 and 6): shifts, rollbacks and maintenance write
the listener through one desired state, so none undoes another, a crash is finished by the next
tick, and a change made by hand is told and never overwritten. Faults are real: moto as AWS,
botocore hooks that fail or race a chosen call."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib.aws.clients import client, table
from chalicelib.aws.elbv2 import Elbv2, ListenerError, forward_of
from chalicelib.deployments.shifter import StartOptions
from chalicelib.deployments.store import Conflict
from chalicelib.handlers.advance import Advance
from chalicelib.listeners.owner import ListenerOwner
from chalicelib.listeners.store import PARTITION
from chalicelib.maintenance.listener import ListenerMaintenance, stable_traffic
from tests.deployments.conftest import World

PAGE = "https://status.example.com/maintenance.html"


def page(world: World) -> ListenerMaintenance:
    return ListenerMaintenance(
        "autoheal-state",
        "web-alb",
        443,
        PAGE,
        fallback=lambda: stable_traffic(world.config, "web-alb", 443, world.shifter.store.get, Elbv2()),
        owner=ListenerOwner("autoheal-state", Elbv2(), clock=world.clock),
    )


def live(world: World) -> list[dict[str, Any]]:
    return Elbv2().default_actions(world.listener_arn)


def on_page(world: World) -> bool:
    action = live(world)[0]
    return action["Type"] == "redirect" and action["RedirectConfig"]["Path"] == "/maintenance.html"


def to_step(world: World, percent: int) -> None:
    world.shifter.start(world.web, StartOptions(), by="person")
    while world.shifter.store.get("web").percent < percent:
        world.clock.tick(301)
        world.shifter.tick(world.web)


def test_a_rollback_racing_a_move_wins_and_the_listener_follows_it(world: World) -> None:
    """Case 1: on_alarm rolls back while advance is between its intent and ModifyListener."""
    to_step(world, 10)
    world.clock.tick(301)
    other = world.new_shifter()
    raced: list[Any] = []

    def race(**_: Any) -> None:
        if raced:
            return
        thread = threading.Thread(target=lambda: raced.append(other.rollback(world.web, "alarm:x", "x")))
        raced.append(thread)
        thread.start()

    event = "before-call.elastic-load-balancing-v2.ModifyListener"
    writes = Elbv2().writes
    writes.meta.events.register(event, race)
    try:
        with pytest.raises(Conflict):
            world.shifter.tick(world.web)  # its move landed; its record lost to the rollback
    finally:
        writes.meta.events.unregister(event, race)
    raced[0].join(timeout=30)
    assert world.shifter.store.get("web").state == "rolled_back"
    assert world.weights() == {"web-blue": 100}  # before: 50/50 with the record saying rolled_back


@pytest.mark.parametrize("act", ["advance", "rollback", "abort", "promote"])
def test_a_shift_during_maintenance_moves_the_weights_beneath_the_page(world: World, act: str) -> None:
    """Case 2: the site stays on the page; `off` brings back the weights as they are then."""
    to_step(world, 10)
    page(world).divert("database upgrade")
    world.clock.tick(301)
    if act == "advance":
        world.shifter.tick(world.web)
    elif act == "rollback":
        world.shifter.rollback(world.web, "alarm:web-5xx-high", "web-5xx-high is ALARM")
    elif act == "abort":
        world.shifter.abort(world.web, "stop", by="person")
    else:
        world.shifter.promote(world.web, by="person")
    assert on_page(world)
    page(world).restore()
    expected = {"advance": {"web-blue": 50, "web-green": 50}, "promote": {"web-green": 100}}
    assert world.weights() == expected.get(act, {"web-blue": 100})


def test_a_divert_whose_lambda_died_after_modify_listener_is_ended_by_off(world: World) -> None:
    """Case 3: the page went up, nothing after it was recorded; `off` still takes it down."""

    class Died(BaseException):
        """The Lambda died right after ModifyListener returned."""

    def die(**_: Any) -> None:
        raise Died()

    event = "after-call.elastic-load-balancing-v2.ModifyListener"
    writes = Elbv2().writes
    writes.meta.events.register(event, die)
    try:
        with pytest.raises(Died):
            page(world).divert("upgrade")
    finally:
        writes.meta.events.unregister(event, die)
    assert on_page(world)
    assert page(world).diverted()  # the intent was saved before the listener changed
    page(world).restore()
    assert world.weights() == {"web-blue": 100}


def test_off_with_no_record_restores_the_deployments_stable_group(world: World) -> None:
    """Case 3: the saved state is gone while users see the page: off falls back to blue."""
    page(world).divert("upgrade")
    state = table("autoheal-state")
    state.delete_item(Key={"pk": PARTITION, "sk": world.listener_arn})
    assert on_page(world)
    page(world).restore()
    assert set(world.weights()) == {"web-blue"}  # all of the traffic, on the shipped default


def test_a_refused_divert_leaves_nothing_and_no_old_version_comes_back(world: World) -> None:
    """Case 4: a refused `on` saves nothing; after green is promoted, on/off keeps green."""
    too_long = PAGE + "?" + "x" * 1100
    with pytest.raises(ListenerError):
        ListenerMaintenance("autoheal-state", "web-alb", 443, too_long, form="fixed-response").divert("x")
    assert (
        table("autoheal-state").get_item(Key={"pk": PARTITION, "sk": world.listener_arn}).get("Item") is None
    )
    assert Elbv2().rules(world.listener_arn) == []
    to_step(world, 10)
    world.shifter.promote(world.web, by="person")
    page(world).divert("after the release")
    page(world).restore()
    assert world.weights() == {"web-green": 100}
    assert Elbv2().rules(world.listener_arn) == []  # the health rule went with the page


def test_a_listener_changed_by_hand_mid_shift_is_kept_and_told(world: World) -> None:
    """Case 6: a fixed 503 set by hand is never overwritten by the next step."""
    to_step(world, 10)
    fixed = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}
    Elbv2().set_default_actions(world.listener_arn, [fixed])
    world.clock.tick(301)
    view = Advance(world.config, world.shifter).invoke()
    assert live(world)[0]["Type"] == "fixed-response"
    assert world.shifter.store.get("web").state == "aborted"
    assert any("by hand" in line for line in view["listeners"])
    told = [n for n in world.notices if n.kind == "escalated"]
    assert any("changed by hand" in n.title for n in told)
    # the operator may start again from the listener as it is
    Elbv2().set_default_actions(
        world.listener_arn, [{"Type": "forward", "TargetGroupArn": world.groups["web-blue"]}]
    )
    world.shifter.start(world.web, StartOptions(), by="person")
    assert world.weights() == {"web-blue": 90, "web-green": 10}


def test_a_target_group_deleted_mid_shift_ends_the_shift_and_frees_the_listener(world: World) -> None:
    """Case 6: back to stable, people told, lease released, abort and start answer."""
    to_step(world, 10)
    elb = client("elbv2")
    elb.modify_listener(
        ListenerArn=world.test_listener_arn,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": world.groups["web-blue"]}],
    )
    rest = [{"Type": "forward", "TargetGroupArn": world.groups["web-blue"]}]
    elb.modify_listener(ListenerArn=world.listener_arn, DefaultActions=rest)  # moto refuses in-use deletes
    table("autoheal-state").delete_item(Key={"pk": PARTITION, "sk": world.listener_arn})
    elb.delete_target_group(TargetGroupArn=world.groups["web-green"])
    world.clock.tick(301)
    world.shifter.tick(world.web)
    record = world.shifter.store.get("web")
    assert record.state == "aborted"
    assert record.history[-1]["event"] == "target group gone"
    assert forward_of(live(world)).weights == {world.groups["web-blue"]: 1}
    assert any("target group gone" in n.title for n in world.notices if n.kind == "escalated")
    assert world.shifter.leases.acquire("listener:web-alb:443", "someone-else", world.clock(), 60)
    assert world.shifter.abort(world.web, "again", by="person")["state"] == "aborted"
