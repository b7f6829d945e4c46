"""The shipped diagnose document, sent through moto and run by the sandbox's SSM agent on a host
whose hung app runs under a real PM2: what a restart would destroy is captured, and nothing is
changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.fleet import Fleet
from sandbox.moto_server import MotoServer
from sandbox.pm2 import pm2_unavailable
from sandbox.provision import document_properties
from sandbox.ssm_agent import DEMO_USER, SsmAgent

pytestmark = pytest.mark.skipif(pm2_unavailable() is not None, reason=str(pm2_unavailable()))
DIAGNOSE = "t-diagnose"


@pytest.fixture(scope="module")
def world(aws: MotoServer) -> Iterator[tuple[Fleet, Any, dict[str, str], SsmAgent]]:
    ssm = aws.client("ssm")
    content = document_properties("DiagnoseDocument")["Content"]
    ssm.create_document(
        Name=DIAGNOSE, DocumentType="Command", DocumentFormat="JSON", Content=json.dumps(content)
    )
    with Fleet([("blue-1", "blue"), ("green-1", "green")], pm2=True, nvm={"green-1"}) as fleet:
        ids = fleet.register_instances(aws.client("ec2"))
        with SsmAgent(ssm, fleet, ids, poll_interval=0.1, skip_existing=True) as agent:
            yield fleet, ssm, ids, agent


def diagnose(world: Any, instance: str, **parameters: str) -> tuple[dict[str, Any], float]:
    fleet, ssm, ids, agent = world
    started = time.monotonic()
    sent = ssm.send_command(
        DocumentName=DIAGNOSE,
        InstanceIds=[ids[instance]],
        Parameters={"service": ["web"], "manager": ["pm2"], "user": [DEMO_USER]}
        | {key: [value] for key, value in parameters.items()},
    )
    command_id = sent["Command"]["CommandId"]
    assert agent.wait_for(command_id, timeout=60)
    invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=ids[instance])
    return dict(invocation), time.monotonic() - started


@pytest.mark.parametrize("instance", ["blue-1", "green-1"], ids=["pm2-on-login-path", "pm2-under-nvm"])
def test_the_diagnosis_of_a_hung_app_keeps_what_a_restart_destroys_and_changes_nothing(
    world: Any, instance: str
) -> None:
    fleet = world[0]
    for n in range(3):  # the app logs each request: these are its last lines
        requests.get(f"{fleet.url(instance)}/last-words-{n}", timeout=2)
    fleet.fault(instance, "hang")
    before = fleet.pm2_state(instance)
    invocation, took = diagnose(world, instance)
    out = invocation["StandardOutputContent"]
    assert (invocation["Status"], invocation["ResponseCode"]) == ("Success", 0), (
        out + invocation["StandardErrorContent"]
    )
    assert took < 20  # the document's own timeout bounds it
    assert "=== pm2 describe web ===" in out and "online" in out
    assert "=== last 200 log lines ===" in out and "/last-words-2" in out
    assert f"=== process {before['pid']}: memory and CPU ===" in out
    assert "=== process {}: open connections ===".format(before["pid"]) in out
    assert "=== host memory ===" in out and "Mem:" in out
    assert "=== disk free ===" in out and "Filesystem" in out
    assert fleet.pm2_state(instance) == before  # read-only: the hung app is left as it was
    fleet.fault(instance, "none")


def test_the_diagnosis_keeps_only_the_last_lines_asked_for(world: Any) -> None:
    fleet = world[0]
    for n in range(5):
        requests.get(f"{fleet.url('blue-1')}/counted-{n}", timeout=2)
    invocation, _ = diagnose(world, "blue-1", lines="2")
    logs = invocation["StandardOutputContent"].split("=== last 2 log lines ===")[1].split("===")[0]
    assert "/counted-4" in logs and "/counted-3" in logs and "/counted-0" not in logs
