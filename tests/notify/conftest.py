"""Fake AWS credentials and a fresh client cache for every notify test (moto runs in-process)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aws_lambda_powertools.utilities import parameters

from chalicelib.aws import clients
from chalicelib.notify import Notice


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # moto in-process, not a server
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    clients.reset()
    parameters.clear_caches()
    yield
    clients.reset()
    parameters.clear_caches()


@pytest.fixture
def notice() -> Notice:
    return Notice(
        kind="opened",
        incident="web",
        title="web is DOWN",
        lines=(
            "21:03:04 DOWN: timeout after 5s",
            "21:03:10 restart sent to i-0abc1234def567890 (command 1234-abcd)",
        ),
        command_id="1234-abcd",
        downtime_s=192.4,
        at=datetime(2024, 5, 1, 21, 3, 4, tzinfo=UTC),
    )
