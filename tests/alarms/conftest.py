"""Fixtures for the alarm tests: fresh, mutable copies of the sample bodies."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from .samples import load_event


@pytest.fixture
def metric_body() -> dict[str, Any]:
    """A fresh copy of the metric alarm sample's body, to mutate."""
    record = load_event("alarm-metric-alarm.json")["Records"][0]
    return json.loads(record["Sns"]["Message"])


@pytest.fixture
def body_of() -> Callable[[str], dict[str, Any]]:
    def _body(name: str) -> dict[str, Any]:
        return copy.deepcopy(json.loads(load_event(name)["Records"][0]["Sns"]["Message"]))

    return _body
