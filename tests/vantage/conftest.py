"""The local world of tests/runbooks (moto, a health server, instances, the app), with three
vantage points in front of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from chalicelib.vantage import regional
from chalicelib.vantage.votes import VoteStore
from sandbox.provision import create_table
from sandbox.vantage_world import InvokeApi, KnownGood
from tests.runbooks.conftest import (  # noqa: F401 - fixtures, shared
    aws,
    forget_wiring,
    health,
    health_server,
    make_world,
)


@pytest.fixture(scope="session")
def known_good() -> Iterator[str]:
    server = KnownGood()
    yield server.url
    server.close()


@pytest.fixture
def invoke_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[InvokeApi]:
    api = InvokeApi()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", api.url)
    regional.reset()
    yield api
    api.settle()
    api.close()
    regional.reset()


@pytest.fixture
def cleanup() -> Iterator[Callable]:
    """cleanup(proxy, ...) stops them at the end of the test."""
    held: list = []
    yield held.extend
    for proxy in held:
        proxy.stop()


def home_table_store(home: str) -> Iterator[VoteStore]:
    """A vote store over a new state table in `home`, with the regional clients forgotten around it."""
    regional.reset()
    create_table("autoheal-state", regional.client("dynamodb", home))
    yield VoteStore("autoheal-state", home)
    regional.reset()
