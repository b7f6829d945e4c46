"""`advance` (schedule): one tick for every deployment with something in flight."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from chalicelib.config.model import Config
from chalicelib.deployments.shifter import Shifter
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
                result = self.shifter.tick(deployment)
            except Conflict:
                continue  # another invocation moved it just now; the next tick sees its state
            except Exception as exc:  # noqa: BLE001 - logged; the next tick reconciles
                logger.exception("advance failed", extra={"deployment": deployment.name})
                failed.append({"deployment": deployment.name, "error": f"{type(exc).__name__}: {exc}"[:300]})
                continue
            if result is not None:
                moved.append(result)
        return {"deployments": moved, "failed": failed, "listeners": listeners}
