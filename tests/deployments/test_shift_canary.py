"""A canary from blue to green through `advance`, against moto."""

from __future__ import annotations

from chalicelib.deployments.shifter import StartOptions
from chalicelib.deployments.signals import rollback_for
from tests.deployments.conftest import CallLog, World


def test_canary_moves_one_step_per_interval_and_promotes(world: World) -> None:
    shifter = world.shifter
    view = shifter.start(world.web, StartOptions(), by="person")
    assert view["state"] == "shifting"
    assert view["weights"] == {"web-blue": 90, "web-green": 10}
    assert world.weights() == {"web-blue": 90, "web-green": 10}
    assert world.weights(world.test_listener_arn) == {"web-green": 1}

    assert shifter.tick(world.web)["weights"] == {"web-blue": 90, "web-green": 10}  # still baking
    world.clock.tick(301)
    assert shifter.tick(world.web)["weights"] == {"web-blue": 50, "web-green": 50}
    world.clock.tick(301)
    view = shifter.tick(world.web)
    assert view["state"] == "promoted"
    assert world.weights() == {"web-green": 100}
    assert world.sticky()  # stickiness kept through a shift that went well
    assert world.weights(world.test_listener_arn) == {"web-blue": 1}  # the new standby
    events = [(h["event"], h["by"], h["percent"]) for h in view["history"]]
    assert events == [
        ("started", "person", 0),
        ("moved", "person", 10),
        ("moved", "schedule", 50),
        ("promoted", "schedule", 100),
    ]
    assert [n.title for n in world.notices][-1] == "web: promoted (web-green 100%)"
    assert shifter.tick(world.web) is None  # nothing in flight any more


def test_aws_calls_per_move(world: World, capsys) -> None:
    world.shifter.start(world.web, StartOptions(), by="person")
    world.clock.tick(301)
    with CallLog() as log:
        world.shifter.tick(world.web)
    assert log.calls.count("ModifyListener") == 1
    world.monitor("DOWN")
    with CallLog() as rollback:
        rollback_for(world.shifter, world.config.deployments, "web", "DOWN")
    assert rollback.calls.count("ModifyListener") == 1  # one move back, not a step at a time
    with capsys.disabled():
        print(f"\nAWS calls for one advance that moves: {len(log.calls)}: {', '.join(log.calls)}")
        print(f"AWS calls for a rollback on a signal: {len(rollback.calls)}: {', '.join(rollback.calls)}")
