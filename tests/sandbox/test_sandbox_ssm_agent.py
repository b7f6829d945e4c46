"""The stand-in SSM agent runs restarts sent through moto's send_command."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from sandbox.fleet import Fleet
from sandbox.ssm_agent import InvalidParameters, SsmAgent, restart_action

# A valid stand-in for the real document (resources/ will hold that one).
RESTART_DOCUMENT = {
    "schemaVersion": "2.2",
    "description": "Restart one service through its process manager.",
    "parameters": {
        "service": {"type": "String", "allowedPattern": "^[A-Za-z0-9_.@-]{1,64}$"},
        "manager": {"type": "String", "allowedValues": ["pm2", "systemd", "docker"]},
    },
    "mainSteps": [
        {
            "action": "aws:runShellScript",
            "name": "restart",
            "inputs": {
                "runCommand": [
                    'SERVICE="{{ service }}" MANAGER="{{ manager }}"',
                    'case "$MANAGER" in pm2) pm2 restart "$SERVICE";; '
                    'systemd) systemctl restart "$SERVICE";; '
                    'docker) docker restart "$SERVICE";; esac',
                ]
            },
        }
    ],
}


@pytest.fixture
def world(
    fleet: Fleet, aws_client: Callable[[str], Any]
) -> Iterator[tuple[Fleet, Any, dict[str, str], SsmAgent]]:
    ssm = aws_client("ssm")
    names = {d["Name"] for d in ssm.list_documents()["DocumentIdentifiers"]}
    if "autoheal-restart" not in names:
        ssm.create_document(
            Content=json.dumps(RESTART_DOCUMENT),
            Name="autoheal-restart",
            DocumentType="Command",
            DocumentFormat="JSON",
        )
    ids = fleet.register_instances(aws_client("ec2"))
    agent = SsmAgent(ssm, fleet, ids, poll_interval=0.1, skip_existing=True)
    agent.start()
    yield fleet, ssm, ids, agent
    agent.stop()


def send(ssm: Any, instance_id: str, document: str, parameters: dict[str, list[str]]) -> str:
    response = ssm.send_command(DocumentName=document, InstanceIds=[instance_id], Parameters=parameters)
    return str(response["Command"]["CommandId"])


def test_restart_command_heals_a_hung_instance(world: Any) -> None:
    fleet, ssm, ids, agent = world
    fleet.fault("blue-1", "hang")
    green_pid = fleet.state("green-1")["pid"]
    command_id = send(ssm, ids["blue-1"], "autoheal-restart", {"service": ["web"], "manager": ["pm2"]})
    entries = agent.wait_for(command_id, timeout=10)
    assert [(e.instance, e.action, e.result) for e in entries] == [("blue-1", "pm2 restart web", "ok")]
    assert requests.get(fleet.url("blue-1") + "/healthz", timeout=2).json()["status"] == "ok"
    assert fleet.state("green-1")["pid"] == green_pid  # only the target restarted
    invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=ids["blue-1"])
    assert invocation["Status"] == "Success"


def test_invalid_parameters_are_rejected_without_restart(world: Any) -> None:
    fleet, ssm, ids, agent = world
    pid = fleet.state("blue-1")["pid"]
    command_id = send(
        ssm, ids["blue-1"], "autoheal-restart", {"service": ["web; reboot"], "manager": ["pm2"]}
    )
    (entry,) = agent.wait_for(command_id, timeout=10)
    assert entry.result.startswith("rejected")
    assert fleet.state("blue-1")["pid"] == pid


def test_other_documents_are_recorded_and_do_nothing(world: Any) -> None:
    fleet, ssm, ids, agent = world
    pid = fleet.state("green-1")["pid"]
    command_id = send(ssm, ids["green-1"], "AWS-RunShellScript", {"commands": ["reboot"]})
    (entry,) = agent.wait_for(command_id, timeout=10)
    assert (entry.instance, entry.result) == ("green-1", "ran")
    assert fleet.state("green-1")["pid"] == pid


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"service": ["web"], "manager": ["systemd"]}, "systemctl restart web"),
        ({"service": ["api@1"], "manager": ["docker"]}, "docker restart api@1"),
    ],
)
def test_restart_action_names_the_real_command(parameters: dict[str, list[str]], expected: str) -> None:
    assert restart_action(parameters) == expected


@pytest.mark.parametrize(
    "parameters",
    [
        {"service": ["web"], "manager": ["supervisord"]},
        {"service": ["$(id)"], "manager": ["pm2"]},
        {"service": ["a" * 65], "manager": ["pm2"]},
        {"service": ["web", "api"], "manager": ["pm2"]},
        {"manager": ["pm2"]},
    ],
)
def test_restart_action_rejects_what_the_document_would(
    parameters: dict[str, list[str]],
) -> None:
    with pytest.raises(InvalidParameters):
        restart_action(parameters)
