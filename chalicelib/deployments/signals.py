"""A gate alarm or a gate monitor's DOWN rolls its deployment back at once (from `on_alarm`),
without waiting for the next `advance`."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any, Mapping, Optional

from aws_lambda_powertools import Logger

from chalicelib.alarms.model import AlarmEvent
from chalicelib.config.model import Config, Deployment

if TYPE_CHECKING:  # the shifter (and its AWS adapters) loads only when a signal gates a shift
    from chalicelib.deployments.shifter import Shifter

logger = Logger(service="autoheal", child=True)


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


def signal_of(alarm: AlarmEvent) -> Optional[tuple[str, str]]:
    """(signal, state) as the gates name it: the probe's ALARM is its monitor going DOWN."""
    if alarm.state != "ALARM":
        return None
    if alarm.kind == "probe" and alarm.monitor:
        return alarm.monitor, "DOWN"
    return alarm.name, "ALARM"


def roll_back_gated(alarm: AlarmEvent, config: Config) -> list[dict[str, Any]]:
    """What `on_alarm` calls for every alarm it parsed, claimed by a runbook or not.

    Never raises: the alarm must still reach its incident. A rollback that failed is logged and
    reported; the next `advance` sees the same failing gate and rolls back then."""
    signal = signal_of(alarm)
    if signal is None or not any(gated_by(d, *signal) for d in config.deployments.values()):
        return []
    from chalicelib.handlers.advance import rollback_for_signal

    try:
        return rollback_for_signal(*signal, config)
    except Exception as exc:  # noqa: BLE001 - the incident path must run; advance retries the rollback
        logger.exception("rollback on a gate signal failed; advance will retry", extra={"signal": signal[0]})
        return [{"signal": signal[0], "error": f"{type(exc).__name__}: {exc}"[:300]}]
