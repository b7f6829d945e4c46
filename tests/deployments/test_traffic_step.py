"""The `traffic` runbook step: a runbook moves a deployment back to stable (or finishes it),
through the shifter, against moto."""

from __future__ import annotations

import time

import pytest

from chalicelib import wiring
from chalicelib.config import ConfigError, parse_config
from chalicelib.deployments.shifter import StartOptions
from chalicelib.runbooks.engine import RunbookEngine
from chalicelib.runbooks.incident import Incident, RunPosition
from chalicelib.runbooks.steps import NEXT, REGISTRY, StepContext
from tests.conftest import SETTINGS
from tests.deployments.conftest import World

RUNBOOK = """
runbooks:
  back-to-stable:
    targets: {tag: {app: web}}
    steps:
      - traffic: {deployment: web, action: ACTION}
"""


def run_step(world: World, action: str) -> Incident:
    config = world.config
    step = config.runbooks["back-to-stable"].steps[0]
    assert (step.action, step.params) == ("traffic", {"deployment": "web", "action": action})
    engine = RunbookEngine(
        config, None, None, None, None, world.notices.append,  # type: ignore[arg-type]
        shifter=lambda notify: wiring.build_shifter(config, notify=notify),
    )  # fmt: skip
    incident = Incident("web", "web is failing", world.clock(), "5xx")
    incident.run = RunPosition("back-to-stable", [])
    ctx = StepContext(engine, incident, [], time.monotonic() + 30, lambda _: None)
    assert REGISTRY["traffic"]().execute(ctx, step.params) == NEXT
    return incident


def test_abort_sends_everyone_back_to_stable(make_world) -> None:
    world = make_world(more=RUNBOOK.replace("ACTION", "abort"))
    world.shifter.start(world.web, StartOptions(), by="person")
    incident = run_step(world, "abort")
    assert world.weights() == {"web-blue": 100} and not world.sticky()
    view = world.shifter.status(world.web)
    assert (view["state"], view["history"][-1]["by"]) == ("aborted", "runbook:back-to-stable")
    assert incident.story[-1].endswith("traffic abort web: aborted (web-blue=100, web-green=0)")
    assert any(n.title == "web: aborted (web-green 0%)" for n in world.notices)


def test_promote_finishes_the_shift_and_nothing_in_flight_is_said(make_world) -> None:
    world = make_world(more=RUNBOOK.replace("ACTION", "promote"))
    incident = run_step(world, "promote")
    assert "traffic promote web: deployment 'web' is idle: nothing to promote" in incident.story[-1]
    world.shifter.start(world.web, StartOptions(), by="person")
    run_step(world, "promote")
    assert world.weights() == {"web-green": 100}


@pytest.mark.parametrize(
    "step, error",
    [
        (
            "traffic: {deployment: web, action: rewind}",
            "runbooks.r.steps[0].traffic.action: expected one of abort, promote, got 'rewind'",
        ),
        ("traffic: {action: abort}", "runbooks.r.steps[0].traffic.deployment: required"),
        (
            "traffic: {deployment: api}",
            "runbooks.r.steps[0].traffic.deployment: no deployment named 'api' (deployments: web)",
        ),
        ("traffic: {deployment: web, weight: 5}", "runbooks.r.steps[0].traffic.weight: unknown key"),
    ],
)
def test_bad_traffic_steps_name_the_key(step: str, error: str) -> None:
    text = SETTINGS + (
        "deployments:\n  web: {listener: {load_balancer: web-alb, port: 443}, blue: b, green: g}\n"
        f"runbooks:\n  r:\n    targets: {{tag: {{app: web}}}}\n    steps:\n      - {step}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert any(e.startswith(error) for e in caught.value.errors), caught.value.errors
