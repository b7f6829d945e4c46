"""Invoking an alarm sample twice: the second answer is on_alarm's idempotency record, and the
operator command says so (the local world, through Lambda's Invoke API over HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autoheal_ops.invoke import replayed
from sandbox.world import World

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """settings:
  state_table: autoheal-state
  alarm_topic: autoheal-alarms
  notify_topic: autoheal-notify
  status_bucket: autoheal-status
monitors:
  - name: web
    url: http://${ALB_WEB_ALB_80}/healthz
alarms:
  - match: "web-*-memory-high"
    runbook: restart-web
runbooks:
  restart-web:
    targets: {tag: {app: web}}
    steps: [{restart: {service: web, manager: systemd}}, {escalate: {}}]
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    config = tmp_path_factory.mktemp("replay") / "autoheal.yaml"
    config.write_text(CONFIG)
    with World(str(config), tick_seconds=3600) as running:  # no schedule fires during the test
        yield running


def invoke(world: World, sample: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUTOHEAL_CONFIG": world.config_path}
    command = [sys.executable, "-m", "autoheal_ops", "--config", world.config_path, "invoke"]
    command.append(str(ROOT / "events" / sample))
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_a_second_invocation_of_the_same_sample_says_it_is_a_replay(world) -> None:
    first = invoke(world, "alarm-metric-ok.json")
    assert first.returncode == 0, first.stderr
    assert "replayed" not in first.stderr
    second = invoke(world, "alarm-metric-ok.json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == json.loads(first.stdout)  # the same answer, from the record
    assert second.stderr == (
        "replayed (incident restart-web/i-0abc1234def567890): this alarm state change was handled"
        " before, so on_alarm answered from its idempotency record and did nothing again (records"
        " last 24 h); give the sample a new StateChangeTime to act again\n"
    )


def test_a_dropped_sample_is_never_called_a_replay(world) -> None:
    for _ in range(2):
        done = invoke(world, "alarm-composite.json")
        assert done.returncode == 0 and done.stderr == "", done.stderr
        assert json.loads(done.stdout)["dropped"]


def test_a_fresh_answer_equal_to_an_old_record_is_not_a_replay() -> None:
    answer = {"handled": [{"incident": "a", "action": "none: no open incident"}]}
    old = {"k1": ("COMPLETED", 2_000_000_000, json.dumps(answer["handled"][0]))}
    fresh = {**old, "k2": ("COMPLETED", 2_000_000_000, json.dumps(answer["handled"][0]))}
    assert replayed(old, fresh, answer, now=1_900_000_000) == []
    assert replayed(old, old, answer, now=1_900_000_000) == ["a"]
    assert replayed(old, old, answer, now=2_100_000_000) == []  # an expired record is not replayed
