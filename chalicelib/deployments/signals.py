"""A gate alarm or a gate monitor's DOWN rolls its deployment back at once (from `on_alarm`),
without waiting for the next `advance`."""

from __future__ import annotations

import fnmatch
from typing import Any, Mapping

from chalicelib.config.model import Deployment
from chalicelib.deployments.shifter import Shifter


def gated_by(deployment: Deployment, signal: str, state: str) -> str | None:
    """Who asked, when `signal` in `state` is one of this deployment's failing gates."""
    if state == "ALARM" and any(fnmatch.fnmatchcase(signal, glob) for glob in deployment.gates.alarms):
        return f"alarm:{signal}"
    if state == "DOWN" and signal in deployment.gates.monitors:
        return f"monitor:{signal}"
    return None


def rollback_for(
    shifter: Shifter, deployments: Mapping[str, Deployment], signal: str, state: str
) -> list[dict[str, Any]]:
    """Roll back every shifting deployment that `signal` gates; returns their new state."""
    rolled = []
    for deployment in deployments.values():
        by = gated_by(deployment, signal, state)
        if by is None:
            continue
        result = shifter.rollback(deployment, by, f"{signal} is {state}")
        if result is not None:
            rolled.append(result)
    return rolled
