"""The pure parts: plans, decisions, the comparison gate, the deployment's config."""

from __future__ import annotations

import pytest

from chalicelib.aws.cloudwatch import GroupTraffic, glob_prefix
from chalicelib.aws.elbv2 import Forward, ListenerError, check_weights, retry_throttled
from chalicelib.config import ConfigError, parse_config
from chalicelib.config.model import Compare
from chalicelib.deployments.gates import compare_traffic, monitors_verdict, targets_verdict
from chalicelib.deployments.machine import PASS, Verdict, decide
from chalicelib.deployments.model import SHIFTING, Intent, Record
from chalicelib.deployments.store import from_item, to_item
from chalicelib.deployments.strategies import plan
from chalicelib.state.thresholds import MonitorState
from tests.conftest import SETTINGS


@pytest.mark.parametrize(
    ("strategy", "steps", "expected"),
    [
        ("all_at_once", (10, 50, 100), (100,)),
        ("canary", (10, 100), (10, 100)),
        ("canary", (5, 25, 50, 100), (5, 25, 50, 100)),
        ("linear", (20,), (20, 40, 60, 80, 100)),
        ("linear", (30,), (30, 60, 90, 100)),
        ("linear", (25, 50, 75, 100), (25, 50, 75, 100)),
    ],
)
def test_each_strategy_plans_rising_shares_ending_at_100(strategy, steps, expected) -> None:
    assert plan(strategy, steps) == expected


def record(**changes) -> Record:
    base = Record("web", SHIFTING, "web-blue", "web-green", "l", "b", "g", (10, 50, 100), "canary", 300.0)
    fields = {"step": 0, "percent": 10, "next_move_at": 1300.0, "deadline": 1900.0, **changes}
    return Record(**{**base.__dict__, **fields})


@pytest.mark.parametrize(
    ("now", "verdict", "action", "percent"),
    [
        (1000.0, PASS, "wait", 10),
        (1300.0, PASS, "move", 50),
        (1300.0, Verdict("hold", "few requests", "gate:compare"), "hold", 10),
        (1000.0, Verdict("fail", "monitor web is DOWN", "monitor:web"), "rollback", 0),
        (1900.0, Verdict("hold", "few requests", "gate:compare"), "rollback", 0),
    ],
)
def test_decisions(now, verdict, action, percent) -> None:
    decision = decide(record(), now, verdict)
    assert (decision.action, decision.percent) == (action, percent)


def test_the_last_step_is_a_promotion_and_restores_wait_for_their_time() -> None:
    assert decide(record(step=1, percent=50), 1300.0, PASS).action == "promote"
    rolled = record(state="rolled_back", restore_stickiness_at=5000.0)
    assert decide(rolled, 4999.0, PASS).action == "none"
    assert decide(rolled, 5000.0, PASS).action == "restore"


def test_record_round_trips_through_its_item() -> None:
    original = record(
        intent=Intent("step", 50, "schedule", "step 2"), stickiness={"Enabled": True, "DurationSeconds": 60}
    )
    original = original.noting(1000.0, "moved", "person", "x")
    assert from_item(to_item(original)) == original


RULES = Compare(error_rate_margin=0.01, latency_margin=0.2, min_requests=100)


@pytest.mark.parametrize(
    ("candidate", "stable", "outcome", "says"),
    [
        (GroupTraffic(99, 0, 0.1), GroupTraffic(900, 0, 0.1), "hold", "inconclusive: candidate served 99"),
        (GroupTraffic(100, 0, 0.1), GroupTraffic(50, 0, 0.1), "hold", "inconclusive: stable served 50"),
        (
            GroupTraffic(100, 3, 0.1),
            GroupTraffic(900, 9, 0.1),
            "fail",
            "candidate 5xx rate 3.00% vs stable 1.00%",
        ),
        (GroupTraffic(100, 2, 0.1), GroupTraffic(900, 9, 0.1), "pass", "within margins"),
        (
            GroupTraffic(100, 0, 0.25),
            GroupTraffic(900, 0, 0.2),
            "fail",
            "candidate p95 250 ms vs stable 200 ms",
        ),
        (GroupTraffic(100, 0, 0.24), GroupTraffic(900, 0, 0.2), "pass", "within margins"),
        (GroupTraffic(100, 0, None), GroupTraffic(900, 0, 0.2), "hold", "inconclusive: no p95"),
    ],
)
def test_compare_gate(candidate, stable, outcome, says) -> None:
    verdict = compare_traffic(candidate, stable, RULES)
    assert verdict.outcome == outcome
    assert says in verdict.reason


def test_target_and_monitor_verdicts() -> None:
    assert targets_verdict("g", {}).reason == "g has no registered targets"
    assert targets_verdict("g", {"i-1": "healthy", "i-2": "draining"}).outcome == "fail"
    assert targets_verdict("g", {"i-1": "healthy", "i-2": "initial"}).outcome == "hold"
    assert targets_verdict("g", {"i-1": "healthy"}).outcome == "pass"
    assert monitors_verdict(["web"], {}).outcome == "hold"
    assert monitors_verdict(["web"], {"web": MonitorState(status="DOWN")}).by == "monitor:web"


def test_weights_are_checked_before_any_call() -> None:
    with pytest.raises(ListenerError, match=r"weights\[a\]: expected a whole number 0..999, got 1000"):
        check_weights({"a": 1000})
    with pytest.raises(ListenerError, match="at least one weight above 0"):
        check_weights({"a": 0, "b": 0})
    assert Forward({"a": 90, "b": 10}, {}).same_as(Forward({"a": 900, "b": 100, "c": 0}, {"Enabled": False}))
    assert not Forward({"a": 90, "b": 10}, {"Enabled": True}).same_as(Forward({"a": 90, "b": 10}, {}))


def test_only_throttling_is_retried() -> None:
    from botocore.exceptions import ClientError, ReadTimeoutError

    calls = []

    def throttled_then_ok():
        calls.append(1)
        if len(calls) < 3:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "ModifyListener")
        return "done"

    assert retry_throttled(throttled_then_ok, sleep=lambda s: None) == "done" and len(calls) == 3

    def timed_out():
        calls.append(1)
        raise ReadTimeoutError(endpoint_url="http://127.0.0.1:1")

    calls.clear()
    with pytest.raises(ReadTimeoutError):
        retry_throttled(timed_out, sleep=lambda s: None)
    assert len(calls) == 1  # the change may have happened: never sent twice


def test_glob_prefix() -> None:
    assert (glob_prefix("web-5xx-*"), glob_prefix("*"), glob_prefix("exact")) == ("web-5xx-", "", "exact")


def test_config_reads_the_deployment_extensions() -> None:
    config = parse_config(
        SETTINGS
        + """monitors: [{name: web, url: "http://127.0.0.1:9/healthz"}]
deployments:
  web:
    listener: {load_balancer: web-alb, port: 443}
    blue: web-blue
    green: web-green
    strategy: linear
    steps: [25]
    test_listener: {port: 8080}
    max_hold: 30m
    gates: {monitors: [web], compare: {error_rate_margin: 0.02, min_requests: 50}}
    hooks:
      before_start: [web]
      after_promote:
        - autoheal-valkey-promote
        - run: {document: autoheal-valkey-promote, parameters: {master: cache, sentinel: "10.0.1.5:26379"}}
"""
    )
    web = config.deployments["web"]
    assert (web.test_listener, web.max_hold) == (8080, 1800.0)
    assert [(step.action, dict(step.params)) for step in web.hooks.after_promote] == [
        ("run", {"document": "autoheal-valkey-promote", "parameters": {}}),
        (
            "run",
            {
                "document": "autoheal-valkey-promote",
                "parameters": {"master": ["cache"], "sentinel": ["10.0.1.5:26379"]},
            },
        ),
    ]
    assert web.gates.compare == Compare(error_rate_margin=0.02, latency_margin=0.2, min_requests=50)


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            SETTINGS
            + """deployments:
  web:
    listener: {load_balancer: web-alb, port: 443}
    blue: web-blue
    green: web-blue
    steps: [50, 10]
    test_listener: {port: 443, host: x}
    gates: {compare: {latency_margin: lots}}
    hooks:
      before_start: [nope]
      after_promote:
        - "rm -rf /"
        - run: {document: autoheal-valkey-promote, parameters: {master: "-x; reboot", role: primary}}
        - {restart: {service: web}}
"""
        )
    errors = caught.value.errors
    assert "deployments.web.steps: expected rising percentages from 1 ending at 100, got [50, 10]" in errors
    assert "deployments.web.green: expected a target group other than blue ('web-blue')" in errors
    assert any(e.startswith("deployments.web.test_listener.host: unknown key") for e in errors)
    assert "deployments.web.test_listener.port: expected a port other than the listener's" in errors
    assert (
        "deployments.web.gates.compare.latency_margin: expected a fraction like 0.05 (0..10), got 'lots'"
        in errors
    )
    assert "deployments.web.hooks.after_promote[0].document: expected an SSM document name" in errors
    assert (
        "deployments.web.hooks.after_promote[1].run.parameters: master: expected a value matching "
        "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$, got '-x; reboot'" in errors
    )
    assert any(
        e.startswith("deployments.web.hooks.after_promote[1].run.parameters: autoheal-valkey-promote has no")
        for e in errors
    )
    assert any(
        e.startswith("deployments.web.hooks.after_promote[2]: expected an SSM document name or")
        for e in errors
    )
    assert "deployments.web.hooks.before_start: no monitor named 'nope'" in errors
