"""The shipped valkey-promote document (a deployment's after_promote hook), sent through moto and
run by the sandbox's SSM agent on green's and blue's hosts, against a real Sentinel set on
loopback: Debian's redis-server and redis-sentinel, a primary, a replica, three sentinels.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.fleet import Fleet
from sandbox.moto_server import MotoServer
from sandbox.pm2 import pm2_unavailable
from sandbox.ports import free_port
from sandbox.processes import terminate
from sandbox.provision import document_properties
from sandbox.sentinel import SentinelSet, binaries
from sandbox.ssm_agent import SsmAgent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.world,
    pytest.mark.skipif(
        binaries() is None, reason="redis-server, redis-sentinel and redis-cli are not installed"
    ),
    pytest.mark.skipif(pm2_unavailable() is not None, reason=str(pm2_unavailable())),
]
PROMOTE = "t-valkey-promote"
HOOK_SENTINEL = 1  # the sentinel the hook asks (any of the three)


class Hook:
    def __init__(self, ssm: Any, ids: dict[str, str], agent: SsmAgent) -> None:
        self.ssm, self.ids, self.agent = ssm, ids, agent

    def run(self, instance: str, valkey: SentinelSet, port: int, **extra: str) -> dict[str, Any]:
        """The after_promote hook on ``instance``: its Valkey is on ``port``."""
        parameters = {"sentinel": [f"127.0.0.1:{valkey.sentinel_ports[HOOK_SENTINEL]}"], "port": [str(port)]}
        parameters.update({key: [value] for key, value in extra.items()})
        command = self.ssm.send_command(
            DocumentName=PROMOTE, InstanceIds=[self.ids[instance]], Parameters=parameters
        )
        command_id = command["Command"]["CommandId"]
        assert self.agent.wait_for(command_id, timeout=150), "the agent did not handle the command"
        return dict(self.ssm.get_command_invocation(CommandId=command_id, InstanceId=self.ids[instance]))


def output(invocation: dict[str, Any]) -> str:
    text = invocation["StandardOutputContent"] + invocation["StandardErrorContent"]
    return f"{invocation['Status']} {invocation['ResponseCode']}: {text}"


@contextlib.contextmanager
def standalone(valkey: SentinelSet) -> Iterator[int]:
    """A Valkey of its own on a free port, which no sentinel monitors."""
    port = free_port()
    command = [valkey.tools["server"], "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while valkey.cli(port, "PING") != "PONG" and time.monotonic() < deadline:
            time.sleep(0.1)
        yield port
    finally:
        terminate(process)


@pytest.fixture(scope="module")
def hook(aws: MotoServer) -> Iterator[Hook]:
    ssm = aws.client("ssm")
    content = document_properties("ValkeyPromoteDocument")["Content"]
    ssm.create_document(
        Name=PROMOTE, DocumentType="Command", DocumentFormat="JSON", Content=json.dumps(content)
    )
    with Fleet([("blue-1", "blue"), ("green-1", "green")], pm2=True) as fleet:
        ids = fleet.register_instances(aws.client("ec2"))
        with SsmAgent(ssm, fleet, ids, poll_interval=0.1, skip_existing=True) as agent:
            yield Hook(ssm, ids, agent)


def test_green_is_promoted_then_blue_back_each_time_the_instance_asked_for(hook: Hook) -> None:
    with SentinelSet() as valkey:
        blue, green = valkey.ports["blue"], valkey.ports["green"]
        for instance, port in (("green-1", green), ("blue-1", blue)):
            invocation = hook.run(instance, valkey, port)
            assert (invocation["Status"], invocation["ResponseCode"]) == ("Success", 0), output(invocation)
            assert invocation["StandardOutputContent"] == f"primary: 127.0.0.1:{port}\n"
            assert valkey.primary(HOOK_SENTINEL) == ("127.0.0.1", port)
            valkey.wait_settled(port)
        again = hook.run("blue-1", valkey, blue)
        assert again["StandardOutputContent"] == f"already primary: 127.0.0.1:{blue}\n"


def test_with_a_second_replica_the_asked_one_is_elected_and_keeps_no_priority_of_its_own(hook: Hook) -> None:
    with SentinelSet(spare=True) as valkey:
        blue, green = valkey.ports["blue"], valkey.ports["green"]
        for instance, port in (("green-1", green), ("blue-1", blue)):
            invocation = hook.run(instance, valkey, port)
            assert invocation["Status"] == "Success", output(invocation)
            assert valkey.primary(HOOK_SENTINEL) == ("127.0.0.1", port)
            valkey.wait_settled(port)
            # The priority it needed is put back: it decides no later failover.
            assert {valkey.priority(p) for p in valkey.ports.values()} == {100}


def test_an_instance_sentinel_does_not_monitor_fails_the_hook_and_nothing_fails_over(hook: Hook) -> None:
    with SentinelSet() as valkey, standalone(valkey) as stranger:
        invocation = hook.run("green-1", valkey, stranger)
        assert (invocation["Status"], invocation["ResponseCode"]) == ("Failed", 1)
        assert "Sentinel does not list this instance" in invocation["StandardErrorContent"]
        assert f"127.0.0.1:{valkey.ports['green']}" in invocation["StandardErrorContent"]  # Sentinel's list
        assert valkey.primary() == ("127.0.0.1", valkey.ports["blue"])


def test_a_master_name_sentinel_does_not_know_fails_the_hook_with_its_answer(hook: Hook) -> None:
    with SentinelSet() as valkey:
        invocation = hook.run("green-1", valkey, valkey.ports["green"], master="othermaster")
        assert (invocation["Status"], invocation["ResponseCode"]) == ("Failed", 1)
        assert invocation["StandardErrorContent"].startswith("Sentinel knows no primary othermaster")
        assert valkey.primary() == ("127.0.0.1", valkey.ports["blue"])
