"""Shared fixtures: the local AWS (moto in server mode) and autoheal deployed into it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.aws.clients import client
from sandbox.moto_server import MotoServer
from sandbox.provision import Provisioned, provision
from sandbox.world import load_app

SETTINGS = """settings:
  state_table: autoheal-state
  alarm_topic: autoheal-alarms
  notify_topic: autoheal-notify
  status_bucket: autoheal-status
"""


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        server.apply_env()
        yield server


@pytest.fixture
def local_aws(moto_server: MotoServer) -> Iterator[MotoServer]:
    """A clean local AWS for each test, with autoheal's cached clients pointed at it."""
    moto_server.apply_env()
    moto_server.reset()
    wiring.reset()
    yield moto_server
    wiring.reset()


class Deployment:
    def __init__(self, app: ModuleType, resources: Provisioned, config_path: Path) -> None:
        self.app = app
        self.resources = resources
        self.config_path = config_path

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Every SNS envelope waiting on a subscribed queue (and remove them)."""
        sqs, found = client("sqs"), []
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def alarms_published(self) -> list[dict[str, Any]]:
        return [json.loads(envelope["Message"]) for envelope in self.drain(self.resources.alarm_queue_url)]


@pytest.fixture
def deploy(
    local_aws: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], Deployment]:
    """deploy(yaml_body) -> the app loaded with SETTINGS + yaml_body, its resources provisioned."""

    def _deploy(body: str) -> Deployment:
        path = tmp_path / "autoheal.yaml"
        path.write_text(SETTINGS + body)
        monkeypatch.setenv("AUTOHEAL_CONFIG", str(path))
        wiring.reset()
        resources = provision(wiring.config())
        return Deployment(load_app(), resources, path)

    return _deploy
