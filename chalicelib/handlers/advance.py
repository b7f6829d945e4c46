"""`advance` (schedule): one tick for every deployment with something in flight; and the
immediate rollback `on_alarm` asks for when a gate alarm fires or a gate monitor goes DOWN."""

from __future__ import annotations

from typing import Any, Optional

from aws_lambda_powertools import Logger

from chalicelib.config.model import Config
from chalicelib.deployments.shifter import Shifter
from chalicelib.deployments.signals import rollback_for
from chalicelib.deployments.store import Conflict

logger = Logger(service="autoheal", child=True)


class Advance:
    def __init__(self, config: Config, shifter: Shifter) -> None:
        self.config = config
        self.shifter = shifter

    def invoke(self) -> dict[str, Any]:
        """Every listener back to its desired state first (a crash mid-write, a hand change
        told); then each deployment on its own: one failing never stops the others."""
        listeners = self.shifter.owner.reconcile_all()
        moved, failed = [], []
        for deployment in self.config.deployments.values():
            try:
                result = self.shifter.advance(deployment)
            except Conflict:
                continue  # another invocation moved it just now; the next tick sees its state
            except Exception as exc:  # noqa: BLE001 - logged; the next tick reconciles
                logger.exception("advance failed", extra={"deployment": deployment.name})
                failed.append({"deployment": deployment.name, "error": f"{type(exc).__name__}: {exc}"[:300]})
                continue
            if result is not None:
                moved.append(result)
        return {"deployments": moved, "failed": failed, "listeners": listeners}


def rollback_for_signal(
    signal: str, state: str, config: Optional[Config] = None, since: Optional[float] = None
) -> list[dict[str, Any]]:
    """Called by `on_alarm`: roll back, in this invocation, every shift gated by `signal`
    (an alarm name in ALARM, or a monitor name that went DOWN) and started by `since`, when
    the signal changed state. Returns what rolled back."""
    from chalicelib import wiring
    from chalicelib.deployments.factory import build_shifter

    config = config or wiring.config()
    if not config.deployments:
        return []
    shifter = build_shifter(config)
    for attempt in range(3):
        try:
            return rollback_for(shifter, config.deployments, signal, state, since)
        except Conflict:
            if attempt == 2:
                raise
    return []
