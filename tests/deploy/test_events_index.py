"""events/index.json tells the truth: each sample exists, is for the function it names, and an
alarm sample does what its line says when `on_alarm` handles it with a shipped stage's config
(dropped, or an incident with the runbook named, a gate's rollback) against moto."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from autoheal_ops.iam import stage_config
from autoheal_ops.stage import ROOT, functions
from chalicelib.alarms.ledger import AlarmLedger
from chalicelib.alarms.parse import parse_sns_event
from chalicelib.aws import clients
from chalicelib.config import load_config
from chalicelib.config.durations import parse_duration
from chalicelib.deployments.signals import gates_any
from chalicelib.incidents.alarm import handle_sns_event
from sandbox.moto_server import MotoServer
from sandbox.provision import create_table

EVENTS = ROOT / "events"
EXAMPLE = ROOT / "chalicelib" / "configs" / "example.yaml"
STAGE_DROPS = "a deployed stage drops it"  # a probe sample, in the example's namespace
INDEX: dict[str, dict[str, Any]] = json.loads((EVENTS / "index.json").read_text())
ALARM_SAMPLES = sorted(name for name, sample in INDEX.items() if sample["function"] == "on_alarm")


def sample(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoServer]:
    with MotoServer() as server:
        server.apply_env()
        clients.reset()
        yield server
    clients.reset()


@pytest.fixture
def stages(aws: MotoServer) -> Iterator[list[Any]]:
    aws.reset()
    clients.reset()
    configs = [load_config(str(EXAMPLE))] + [plain_table(stage_config(stage)) for stage in ("dev", "prod")]
    for config in configs:
        create_table(config.settings.state_table)
    yield configs


def plain_table(config: Any) -> Any:
    """The stage's table name as a plain str: a `${AUTOHEAL_STATE_TABLE}` value is a Substituted,
    which boto3's DynamoDB resource cannot deepcopy (reported separately)."""
    settings = replace(config.settings, state_table=str(config.settings.state_table))
    return replace(config, settings=settings)


def test_every_sample_is_listed_and_every_listed_sample_exists() -> None:
    files = sorted(p.name for p in EVENTS.glob("*.json") if p.name != "index.json")
    assert sorted(INDEX) == files
    assert all(s["function"] in functions() and isinstance(s["acts"], bool) for s in INDEX.values())


def test_each_sample_has_the_shape_of_its_functions_event() -> None:
    for name, listed in INDEX.items():
        event, function = sample(name), listed["function"]
        if function == "on_alarm":
            assert event["Records"][0]["EventSource"] == "aws:sns", name
        elif function in ("probe", "follow_up", "advance"):
            assert event["detail-type"] == "Scheduled Event", name
            assert event["resources"][0].endswith(f"rule/autoheal-dev-{function}"), name
        else:
            assert ("deployment" in event) is (function == "shift_traffic"), name


@pytest.mark.parametrize("name", ALARM_SAMPLES)
def test_an_alarm_sample_does_what_its_line_says(stages: list[Any], name: str) -> None:
    listed = INDEX[name]
    does = listed["does"]
    for config in stages:
        reached: list[tuple[str, str | None]] = []

        def incident_path(alarm: Any, runbook: str | None, reached: list = reached) -> dict:
            reached.append((alarm.state, runbook))
            return {"incident": alarm.name, "runbook": runbook}

        ledger = AlarmLedger(config.settings.state_table)
        out = handle_sns_event(sample(name), config, incident_path, ledger)
        [alarm], _ = parse_sns_event(sample(name), config.settings.metrics_namespace)
        assert alarm.name in does or (alarm.monitor or "") in does, (name, does)
        other_namespace = namespace(name) != config.settings.metrics_namespace
        if STAGE_DROPS in does:
            assert namespace(name) == "Autoheal", name  # the example's and the local world's probe
        if "dropped" in does or (STAGE_DROPS in does and other_namespace):
            assert reached == [] and out["dropped"], (name, out)
            assert not listed["acts"] or STAGE_DROPS in does, name
            continue
        [(state, runbook)] = reached
        acts = state == "ALARM" and runbook is not None
        assert listed["acts"] is acts, name
        assert not acts or f"({runbook})" in does or f"the {runbook} runbook" in does, name
        rolls_back = "rolls back" in does
        assert rolls_back is (gates_any(alarm, config) and alarm.state == "ALARM"), (name, does)
        assert out["rolled_back"] == []  # nothing in flight here
    for config in stages:
        [alarm], _ = parse_sns_event(sample(name), config.settings.metrics_namespace)
        if "dropped" in does:  # a gate's rollback comes first, then the drop
            assert ("rolls back" in does) is (gates_any(alarm, config) and alarm.state == "ALARM"), name


def namespace(name: str) -> str:
    message = json.loads(sample(name)["Records"][0]["Sns"]["Message"])
    trigger = message.get("Trigger") or {}
    metrics = trigger.get("Metrics") or [{}]
    return trigger.get("Namespace") or metrics[-1].get("MetricStat", {}).get("Metric", {}).get(
        "Namespace", ""
    )


def test_a_dropped_sample_says_so_and_acts_on_nothing() -> None:
    for name in ALARM_SAMPLES:
        if "dropped" in INDEX[name]["does"]:
            assert INDEX[name]["acts"] is False
            assert "incident" not in INDEX[name]["does"].split("dropped")[0], name


def test_the_direct_samples_name_what_their_payload_asks() -> None:
    on = sample("maintenance-on.json")
    minutes = int(parse_duration(on["for"]) // 60)
    assert f"for {minutes} minutes" in INDEX["maintenance-on.json"]["does"]
    canary = sample("shift-start-canary.json")
    does = INDEX["shift-start-canary.json"]["does"]
    assert ", ".join(f"{step}%" for step in canary["steps"]) in does
    assert f"every {int(parse_duration(canary['step_interval']) // 60)} minutes" in does
    assert canary["to"] in does and canary["strategy"] in does
    for name in INDEX:
        if INDEX[name]["function"] == "shift_traffic":
            assert re.search(rf"\b{sample(name)['deployment']}\b", INDEX[name]["does"]), name


def test_the_index_is_what_the_operator_command_reads() -> None:
    from autoheal_ops.__main__ import EVENTS_INDEX

    assert Path(EVENTS_INDEX) == EVENTS / "index.json"
