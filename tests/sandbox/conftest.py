"""Fixtures for the sandbox tests: one moto per module, a fresh fleet per test.

Every fixture stops what it started in its finalizer, so a failing test leaves no
process behind.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import wiring
from chalicelib.config.model import Deployment, Listener
from sandbox.fleet import Fleet
from sandbox.moto_server import REGION, MotoServer
from sandbox.provision import Member, provision_load_balancers

ROOT = Path(__file__).resolve().parents[2]
FLEET = [("blue-1", "blue"), ("green-1", "green")]
FLEET_OF_THREE = [("blue-1", "blue"), ("blue-2", "blue"), ("green-1", "green")]


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    with Fleet(FLEET, start_timeout=5.0) as running:
        yield running


@pytest.fixture
def aws_client(aws: MotoServer) -> Callable[[str], Any]:
    """``aws_client("ssm")``: a boto3 client on the sandbox moto; os.environ untouched."""
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=REGION,
    )
    return lambda service: session.client(service, endpoint_url=aws.endpoint_url)


@dataclass
class LocalAlb:
    """A fleet of three behind web-alb:80 in the sandbox's moto (blue-1, blue-2 -> web-blue)."""

    aws: MotoServer
    fleet: Fleet
    instance_ids: dict[str, str]
    listener_arn: str
    groups: dict[str, str]  # target group name -> ARN

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def set_weights(self, weights: dict[str, int], sticky: bool = False) -> None:
        """ModifyListener to these weights (by group name)."""
        action = forward_action({self.groups[name]: w for name, w in weights.items()}, sticky)
        self.client("elbv2").modify_listener(ListenerArn=self.listener_arn, DefaultActions=[action])

    def heal(self) -> None:
        """Every instance back to no fault (dead ones restarted)."""
        for name in self.fleet.names:
            if self.fleet.is_alive(name):
                self.fleet.fault(name, "none")
            else:
                self.fleet.restart(name)


def forward_action(weights: dict[str, int], sticky: bool = False) -> dict[str, Any]:
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights.items()],
            "TargetGroupStickinessConfig": {
                "Enabled": sticky,
                **({"DurationSeconds": 600} if sticky else {}),
            },
        },
    }


@pytest.fixture(scope="module")
def local_alb(aws: MotoServer) -> Iterator[LocalAlb]:
    aws.apply_env()  # provisioning uses autoheal's own clients, which read the environment
    wiring.reset()
    deployment = Deployment(name="web", listener=Listener("web-alb", 80), blue="web-blue", green="web-green")
    with Fleet(FLEET_OF_THREE, start_timeout=5.0) as fleet:
        ids = fleet.register_instances(aws.client("ec2"))
        members = [Member(ids[n], fleet.color(n), fleet.port(n)) for n in fleet.names]
        (listener,) = provision_load_balancers({"web": deployment}, members)
        found = aws.client("elbv2").describe_target_groups(Names=["web-blue", "web-green"])["TargetGroups"]
        groups = {g["TargetGroupName"]: g["TargetGroupArn"] for g in found}
        yield LocalAlb(aws, fleet, ids, listener.arn, groups)
    wiring.reset()


def run_sandbox_command(config: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m sandbox --config <config>` run to its end (for configs it refuses)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--config",
            str(config),
            "--env-file",
            str(config) + ".env",
            "--log",
            str(config) + ".log",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
