"""One shift per listener, read-back after every move, rollback with stickiness, abort, promote,
and the other strategies, against moto."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib.aws.clients import client
from chalicelib.deployments.shifter import Refused, StartOptions
from tests.deployments.conftest import World

SECOND_ON_SAME_LISTENER = """  api:
    listener: {load_balancer: web-alb, port: 443}
    blue: web-blue
    green: web-green
"""


def test_concurrent_starts_one_wins(world: World) -> None:
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def start() -> None:
        shifter = world.new_shifter()
        barrier.wait()
        try:
            results.append(shifter.start(world.web, StartOptions(), by="person")["state"])
        except Refused as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results.count("shifting") == 1, results
    assert all("web" in r for r in results if r != "shifting")
    assert world.weights() == {"web-blue": 90, "web-green": 10}
    history = world.shifter.status(world.web)["history"]
    assert [h["event"] for h in history] == ["started", "moved"]


def test_second_start_on_the_listener_names_the_deployment_in_flight(make_world) -> None:
    world = make_world(more=SECOND_ON_SAME_LISTENER)
    world.shifter.start(world.web, StartOptions(), by="person")
    with pytest.raises(Refused, match="shifted by deployment web"):
        world.shifter.start(world.config.deployments["api"], StartOptions(), by="person")
    with pytest.raises(Refused, match="'web' is shifting already"):
        world.shifter.start(world.web, StartOptions(), by="person")
    assert world.weights() == {"web-blue": 90, "web-green": 10}


def wrong_read_back_once(world: World) -> Any:
    """Make the read-back of the next move (the owner reads the listener before and after its
    write) answer with green at 60, as if the write had not held."""
    state = {"reads": 0}

    def alter(parsed: dict, **_: Any) -> None:
        state["reads"] += 1
        if state["reads"] != 2:
            return
        for action in parsed["Listeners"][0]["DefaultActions"]:
            for group in action.get("ForwardConfig", {}).get("TargetGroups", []):
                group["Weight"] = 60 if group["TargetGroupArn"] == world.groups["web-green"] else 40

    client("elbv2").meta.events.register("after-call.elastic-load-balancing-v2.DescribeListeners", alter)
    return alter


def test_read_back_mismatch_stops_the_shift_and_tells_people(world: World) -> None:
    world.shifter.start(world.web, StartOptions(), by="person")
    world.clock.tick(301)
    hook = wrong_read_back_once(world)
    try:
        view = world.shifter.tick(world.web)
    finally:
        client("elbv2").meta.events.unregister("after-call.elastic-load-balancing-v2.DescribeListeners", hook)
    assert view["state"] == "aborted"
    assert world.weights() == {"web-blue": 100}
    mismatch = next(h for h in view["history"] if h["event"] == "read-back mismatch")
    assert mismatch["detail"].startswith(
        "expected web-blue=50, web-green=50, read back web-blue=40, web-green=60"
    )
    escalated = [n for n in world.notices if n.kind == "escalated"]
    assert escalated and "read-back mismatch" in escalated[0].title


def test_rollback_turns_stickiness_off_then_restores_it_once_cookies_expired(world: World) -> None:
    world.shifter.start(world.web, StartOptions(), by="person")
    assert world.sticky()
    world.monitor("DOWN")
    view = world.shifter.tick(world.web)
    assert view["state"] == "rolled_back"
    assert (world.weights(), world.sticky()) == ({"web-blue": 100}, False)
    world.clock.tick(3599)  # the stickiness duration is 1h: a candidate cookie may still be alive
    world.shifter.tick(world.web)
    assert not world.sticky()
    world.clock.tick(2)
    view = world.shifter.tick(world.web)
    assert (world.weights(), world.sticky()) == ({"web-blue": 100}, True)
    assert view["history"][-1]["event"] == "stickiness restored"
    assert world.shifter.tick(world.web) is None


def test_abort_goes_back_at_once_and_is_idempotent(world: World) -> None:
    world.shifter.start(world.web, StartOptions(), by="person")
    world.clock.tick(301)
    world.shifter.tick(world.web)
    view = world.shifter.abort(world.web, "checkout errors", by="person")
    assert (view["state"], view["weights"]) == ("aborted", {"web-blue": 100, "web-green": 0})
    assert view["history"][-1]["detail"] == "checkout errors"
    assert world.shifter.abort(world.web, "again", by="person")["history"] == view["history"]


def test_promote_goes_straight_to_100_and_a_new_start_goes_back(world: World) -> None:
    world.shifter.start(world.web, StartOptions(), by="person")
    view = world.shifter.promote(world.web, by="person")
    assert (view["state"], world.weights()) == ("promoted", {"web-green": 100})
    view = world.shifter.start(world.web, StartOptions(strategy="all_at_once"), by="person")
    assert (view["stable"], view["candidate"], view["state"]) == ("web-green", "web-blue", "promoted")
    assert world.weights() == {"web-blue": 100}


def test_promote_refused_on_a_failing_gate(world: World) -> None:
    world.shifter.start(world.web, StartOptions(), by="person")
    world.stop_instance("web-green")
    with pytest.raises(Refused, match="promote refused: web-green targets not healthy"):
        world.shifter.promote(world.web, by="person")
    assert world.weights() == {"web-blue": 90, "web-green": 10}


def test_linear_moves_in_equal_steps(world: World) -> None:
    view = world.shifter.start(
        world.web, StartOptions(strategy="linear", steps=(25,), step_interval=60), by="p"
    )
    seen = [view["weights"]["web-green"]]
    while view["state"] == "shifting":
        world.clock.tick(61)
        view = world.shifter.tick(world.web)
        seen.append(view["weights"]["web-green"])
    assert seen == [25, 50, 75, 100]
    assert view["state"] == "promoted"


def test_start_refused_on_a_split_or_diverted_listener(world: World) -> None:
    world.shifter.elb.set_forward(
        world.listener_arn, {world.groups["web-blue"]: 70, world.groups["web-green"]: 30}, {}
    )
    with pytest.raises(Refused, match="the listener is split"):
        world.shifter.start(world.web, StartOptions(), by="person")
    fixed = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}
    world.shifter.elb.set_default_actions(world.listener_arn, [fixed])
    with pytest.raises(Refused, match="not a forward"):
        world.shifter.start(world.web, StartOptions(), by="person")
