"""`check --live` looks the status bucket up by the name the stack gave it, not the template's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from autoheal_ops.check import deployed_name, live_errors
from autoheal_ops.iam import stage_config
from chalicelib.aws import clients
from sandbox.moto_server import REGION, MotoServer


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoServer]:
    with MotoServer() as server:
        server.apply_env()
        clients.reset()
        yield server
    clients.reset()


def test_account_and_region_come_from_sts_and_the_clients_region(aws) -> None:
    account = aws.client("sts").get_caller_identity()["Account"]
    name = deployed_name("autoheal-prod-status-${AWS::AccountId}-${AWS::Region}")
    assert name == f"autoheal-prod-status-{account}-{REGION}"
    assert deployed_name("plain-bucket") == "plain-bucket"


def test_check_live_finds_the_deployed_status_bucket(aws) -> None:
    config = stage_config("prod")
    bucket = deployed_name(config.settings.status_bucket)
    aws.client("s3").create_bucket(Bucket=bucket)
    errors = live_errors(config)
    assert not [line for line in errors if line.startswith("settings.status_bucket")], errors
    aws.client("s3").delete_bucket(Bucket=bucket)
    assert any(
        line.startswith(f"settings.status_bucket: bucket {bucket}: not found") for line in live_errors(config)
    )
