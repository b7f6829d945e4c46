"""`shift_traffic` payloads: the samples in events/ work; a rejected one names the key and
changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.deployments.shift_traffic import ShiftTraffic
from tests.deployments.conftest import World

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"shift-{name}.json").read_text())


def test_the_samples_drive_a_deployment(world: World) -> None:
    function = ShiftTraffic(world.config, world.shifter)
    assert function.invoke(sample("status"))["state"] == "idle"
    view = function.invoke(sample("start-canary"))
    assert (view["state"], view["candidate"], view["weights"]) == (
        "shifting",
        "web-green",
        {"web-blue": 90, "web-green": 10},
    )
    assert set(view) == {
        "deployment",
        "state",
        "stable",
        "candidate",
        "weights",
        "step",
        "steps",
        "next_move_at",
        "history",
    }
    assert view["next_move_at"] == "2027-01-15T08:05:00+00:00"
    assert function.invoke(sample("promote"))["state"] == "promoted"
    assert (
        function.invoke(sample("start-canary"))["error"]
        == "to: web-green serves all traffic already; expected the other group"
    )
    function.invoke({"action": "start", "deployment": "web"})
    assert function.invoke(sample("abort"))["state"] == "aborted"


INVALID = [
    ([], "payload: expected a JSON object"),
    ({"deployment": "web"}, "action: expected one of status, start, promote, abort, got None"),
    ({"action": "stop", "deployment": "web"}, "action: expected one of"),
    ({"action": {}, "deployment": "web"}, "action: expected one of status, start, promote, abort, got {}"),
    (
        {"action": ["start"], "deployment": "web"},
        "action: expected one of status, start, promote, abort, got",
    ),
    ({"action": "status", "deployment": {}}, "deployment: expected a configured deployment (web), got {}"),
    ({"action": "start", "deployment": ["web"]}, "deployment: expected a configured deployment (web), got"),
    ({"action": "start", "deployment": "web", "strategy": {}}, "strategy: expected one of all_at_once"),
    (
        {"action": "start", "deployment": "web", "strategy": "all_at_once", "steps": [10, 50, 100]},
        "steps: all_at_once moves all traffic in one step and takes no steps, got [10, 50, 100]",
    ),
    ({"action": "status"}, "deployment: expected a configured deployment (web), got None"),
    (
        {"action": "status", "deployment": "api"},
        "deployment: expected a configured deployment (web), got 'api'",
    ),
    (
        {"action": "start", "deployment": "web", "strategy": "blue_green"},
        "strategy: expected one of all_at_once",
    ),
    ({"action": "start", "deployment": "web", "steps": [50, 10, 100]}, "steps: expected rising percentages"),
    (
        {"action": "start", "deployment": "web", "steps": "10,100"},
        "steps: expected a list of whole percentages",
    ),
    (
        {"action": "start", "deployment": "web", "steps": [10, 60]},
        "steps: expected rising percentages from 1 ending at 100",
    ),
    (
        {"action": "start", "deployment": "web", "strategy": "linear", "steps": [30, 50]},
        "steps: linear expects evenly",
    ),
    (
        {"action": "start", "deployment": "web", "step_interval": "soon"},
        'step_interval: expected a duration like "5m"',
    ),
    (
        {"action": "start", "deployment": "web", "step_interval": -5},
        "step_interval: expected a duration above 0",
    ),
    (
        {"action": "start", "deployment": "web", "to": "web-red"},
        "to: expected 'web-blue' or 'web-green', got 'web-red'",
    ),
    ({"action": "abort", "deployment": "web", "reason": 42}, "reason: expected a string"),
    ({"action": "promote", "deployment": "web", "steps": [100]}, "steps: not allowed for promote"),
    ({"action": "status", "deployment": "web", "by": "x"}, "by: not allowed for status"),
]


@pytest.mark.parametrize(
    ("payload", "error"), INVALID, ids=[e.split(":")[0] + str(i) for i, (_, e) in enumerate(INVALID)]
)
def test_invalid_payloads_name_the_key_and_change_nothing(world: World, payload: Any, error: str) -> None:
    function = ShiftTraffic(world.config, world.shifter)
    before = function.invoke({"action": "status", "deployment": "web"})
    answer = function.invoke(payload)
    assert set(answer) == {"error"}
    assert answer["error"].startswith(error), answer["error"]
    assert function.invoke({"action": "status", "deployment": "web"}) == before
    assert world.weights() == {"web-blue": 100}


def test_all_at_once_with_its_one_step_written_out_still_starts(world: World) -> None:
    function = ShiftTraffic(world.config, world.shifter)
    view = function.invoke(
        {"action": "start", "deployment": "web", "strategy": "all_at_once", "steps": [100]}
    )
    assert (view["state"], view["steps"], world.weights()) == ("promoted", [100], {"web-green": 100})


def test_refusals_are_errors_too(world: World) -> None:
    function = ShiftTraffic(world.config, world.shifter)
    assert function.invoke({"action": "promote", "deployment": "web"}) == {
        "error": "deployment 'web' is idle: nothing to promote"
    }
    world.stop_instance("web-green")
    answer = function.invoke({"action": "start", "deployment": "web"})
    assert answer["error"].startswith("start refused: web-green targets not healthy")
    assert function.invoke({"action": "status", "deployment": "web"})["state"] == "idle"
