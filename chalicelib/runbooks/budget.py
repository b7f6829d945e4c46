"""A sliding-window budget per runbook and target, kept in DynamoDB.

Past `max_runs` in `per`, the runbook stops acting on that target and people are told once
per exhausted window. Writes are conditional on the version read, so two Lambdas racing for
the last slot cannot both win it.

>>> admit([100.0, 200.0], now=1900.0, max_runs=2, per=1800.0)
(True, [200.0, 1900.0])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from chalicelib.aws import dynamodb

PARTITION = "budget"
CONFLICT_RETRIES = 5


def admit(runs: list[float], now: float, max_runs: int, per: float) -> tuple[bool, list[float]]:
    """Pure: drop runs older than the window; admit `now` if there is room."""
    recent = sorted(t for t in runs if t > now - per)
    if len(recent) >= max_runs:
        return False, recent
    return True, [*recent, now]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    runs_in_window: int
    escalate: bool = False  # first refusal in this window: tell people once


class BudgetStore:
    """>>> BudgetStore("autoheal-state").spend("restart-web", "i-0abc", now, 3, 1800)  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def spend(self, runbook: str, target: str, now: float, max_runs: int, per: float) -> Decision:
        for _ in range(CONFLICT_RETRIES):
            item = self.read(runbook, target)
            allowed, kept = admit(item.get("runs", []), now, max_runs, per)
            escalated_at = item.get("escalated_at")
            escalate = not allowed and (escalated_at is None or escalated_at <= now - per)
            if self.write(
                runbook, target, item.get("version"), kept, now if escalate else escalated_at, per, now
            ):
                return Decision(allowed, len(kept), escalate)
        raise RuntimeError(f"budget for {runbook}/{target} kept changing under us")

    def refund(self, runbook: str, target: str, spent_at: float) -> None:
        """Take back the run spent at `spent_at` (an admission that acted on nothing)."""
        for _ in range(CONFLICT_RETRIES):
            item = self.read(runbook, target)
            runs = item.get("runs", [])
            kept = [t for t in runs if abs(t - spent_at) > 0.001]
            if len(kept) == len(runs):
                return
            per = max(0.0, item.get("expiration", 0) - spent_at) / 2  # so the expiration stays
            if self.write(
                runbook, target, item.get("version"), kept, item.get("escalated_at"), per, spent_at
            ):
                return
        raise RuntimeError(f"budget for {runbook}/{target} kept changing under us")

    def read(self, runbook: str, target: str) -> dict:
        return dynamodb.get(self.table_name, PARTITION, sort_key(runbook, target)) or {}

    def write(
        self,
        runbook: str,
        target: str,
        version: Optional[int],
        runs: list[float],
        escalated_at: Optional[float],
        per: float,
        now: float,
    ) -> bool:
        """Write the window if nobody has since it was read (False: read it again)."""
        item = {
            "pk": PARTITION,
            "sk": sort_key(runbook, target),
            "runs": [round(t, 3) for t in runs],
            "version": (version or 0) + 1,
            "expiration": int(now + 2 * per),
        }
        if escalated_at is not None:
            item["escalated_at"] = round(escalated_at, 3)
        if version is None:
            return dynamodb.put(self.table_name, item, "attribute_not_exists(pk)")
        return dynamodb.put(self.table_name, item, "version = :v", {":v": version})


def sort_key(runbook: str, target: str) -> str:
    return f"{runbook}#{target}"
