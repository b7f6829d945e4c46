"""The local world of tests/runbooks (moto, a health server, instances, the app), with three
vantage points in front of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from chalicelib.vantage import regional
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
