"""A gate alarm or a gate monitor's DOWN rolls its deployment back at once (from `on_alarm`),
without waiting for the next `advance`.

Only a new state change rolls back, and only a shift started by the time it happened: SNS
redelivers and reorders, and a deployment is often started again right after a rollback, so
the same ALARM delivered again, one older than the change on record for its alarm, or one
from before the shift must not roll the new shift back. (`advance` still reads every gate
at its next tick, so a change judged old here is never the only chance to roll back.)"""

from __future__ import annotations

import fnmatch
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from aws_lambda_powertools import Logger

from chalicelib.alarms.ledger import AlarmLedger, change_time
from chalicelib.alarms.model import AlarmEvent
from chalicelib.config.model import Config, Deployment

if TYPE_CHECKING:  # the shifter (and its AWS adapters) loads only when a signal gates a shift
    from chalicelib.deployments.shifter import Shifter

logger = Logger(service="autoheal", child=True)

ROLLBACK_ATTEMPTS = 3

# (signal, state, since) -> what rolled back; see `rollback_for_signal`
Rollback = Callable[[str, str, Optional[float]], list[dict[str, Any]]]


def gated_by(deployment: Deployment, signal: str, state: str) -> str | None:
    """Who asked, when `signal` in `state` is one of this deployment's failing gates."""
    if state == "ALARM" and any(fnmatch.fnmatchcase(signal, glob) for glob in deployment.gates.alarms):
        return f"alarm:{signal}"
    if state == "DOWN" and signal in deployment.gates.monitors:
        return f"monitor:{signal}"
    return None


def rollback_for(
    shifter: Shifter,
    deployments: Mapping[str, Deployment],
    signal: str,
    state: str,
    since: Optional[float] = None,
) -> list[dict[str, Any]]:
    """Roll back every shifting deployment that `signal` gates (and that started by `since`,
    when the signal changed state); returns their new state."""
    rolled = []
    for deployment in deployments.values():
        by = gated_by(deployment, signal, state)
        if by is None:
            continue
        result = shifter.rollback(deployment, by, f"{signal} is {state}", since)
        if result is not None:
            rolled.append(result)
    return rolled


def rollback_for_signal(
    shifter: Shifter,
    deployments: Mapping[str, Deployment],
    signal: str,
    state: str,
    since: Optional[float] = None,
) -> list[dict[str, Any]]:
    """What `on_alarm` asks for: roll back, in this invocation, every shift gated by `signal`
    (an alarm name in ALARM, or a monitor name that went DOWN) and started by `since`, when the
    signal changed state; another invocation moving a deployment meanwhile is read again."""
    from chalicelib.deployments.store import Conflict

    for attempt in range(ROLLBACK_ATTEMPTS):
        try:
            return rollback_for(shifter, deployments, signal, state, since)
        except Conflict:
            if attempt == ROLLBACK_ATTEMPTS - 1:
                raise
    return []


def signal_of(alarm: AlarmEvent) -> Optional[tuple[str, str]]:
    """(signal, state) as the gates name it: the probe's ALARM is its monitor going DOWN."""
    if alarm.state != "ALARM":
        return None
    if alarm.kind == "probe" and alarm.monitor:
        return alarm.monitor, "DOWN"
    return alarm.name, "ALARM"


def gates_any(alarm: AlarmEvent, config: Config) -> bool:
    """Whether some deployment gates on this alarm, whatever its state (its OK orders its ALARMs)."""
    if alarm.kind == "probe" and alarm.monitor:
        return any(alarm.monitor in d.gates.monitors for d in config.deployments.values())
    globs = [glob for d in config.deployments.values() for glob in d.gates.alarms]
    return any(fnmatch.fnmatchcase(alarm.name, glob) for glob in globs)


def roll_back_gated(
    alarm: AlarmEvent,
    config: Config,
    ledger: AlarmLedger,
    record: bool = False,
    rollback: Optional[Rollback] = None,
) -> list[dict[str, Any]]:
    """What `on_alarm` calls for every alarm it parsed, claimed by a runbook or not, before the
    incident path records the change in `ledger`. With `record` (nobody claims the alarm, so no
    incident path will), the change is recorded here, so its redeliveries are known too.
    `rollback(signal, state, since)` rolls back what the signal gates (see `rollback_for_signal`).

    Never raises: the alarm must still reach its incident. A rollback that failed is logged and
    reported; the next `advance` sees the same failing gate and rolls back then."""
    if not gates_any(alarm, config):
        return []
    signal, changed_at = signal_of(alarm), change_time(alarm.changed_at)
    named = signal[0] if signal else alarm.name
    try:
        new = ledger.is_new(alarm.name, changed_at)
        if record:
            ledger.record(alarm.name, alarm.state, changed_at, time.time())
        if signal is None:
            return []
        if not new:
            logger.info(f"{alarm.name}: {alarm.state} seen already, or older than the change on record")
            return []
        if rollback is None or not config.deployments:
            return []
        return rollback(*signal, changed_at)
    except Exception as exc:  # noqa: BLE001 - the incident path must run; advance retries the rollback
        logger.exception("rollback on a gate signal failed; advance will retry", extra={"signal": named})
        return [{"signal": named, "error": f"{type(exc).__name__}: {exc}"[:300]}]
