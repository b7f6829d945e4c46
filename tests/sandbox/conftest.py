"""Fixtures for the sandbox tests: one moto per module, a fresh fleet per test.

Every fixture stops what it started in its finalizer, so a failing test leaves no
process behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from sandbox.fleet import Fleet
from sandbox.moto_server import REGION, MotoServer

FLEET = [("blue-1", "blue"), ("green-1", "green")]


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
