"""A sliding-window budget per runbook and target, kept in DynamoDB.

Past `max_runs` in `per`, the runbook stops acting on that target and people are told once
per exhausted window. Writes are conditional on the version read, so two Lambdas racing for
the last slot cannot both win it.

>>> admit([100.0, 200.0], now=1900.0, max_runs=2, per=1800.0)
(True, [200.0, 1900.0])
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from chalicelib.aws.clients import table

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
            runs = [float(t) for t in item.get("runs", [])]
            allowed, kept = admit(runs, now, max_runs, per)
            escalated_at = float(item["escalated_at"]) if "escalated_at" in item else None
            escalate = not allowed and (escalated_at is None or escalated_at <= now - per)
            if self.write(
                runbook, target, item.get("version"), kept, now if escalate else escalated_at, per, now
            ):
                return Decision(allowed, len(kept), escalate)
        raise RuntimeError(f"budget for {runbook}/{target} kept changing under us")

    def read(self, runbook: str, target: str) -> dict:
        found = table(self.table_name).get_item(Key=key(runbook, target), ConsistentRead=True)
        return found.get("Item", {})

    def write(
        self,
        runbook: str,
        target: str,
        version: Optional[Decimal],
        runs: list[float],
        escalated_at: Optional[float],
        per: float,
        now: float,
    ) -> bool:
        item = {
            **key(runbook, target),
            "runs": [Decimal(str(round(t, 3))) for t in runs],
            "version": (version or 0) + 1,
            "expiration": int(now + 2 * per),
        }
        if escalated_at is not None:
            item["escalated_at"] = Decimal(str(round(escalated_at, 3)))
        condition = "attribute_not_exists(pk)" if version is None else "version = :v"
        kwargs = {"Item": item, "ConditionExpression": condition}
        if version is not None:
            kwargs["ExpressionAttributeValues"] = {":v": version}
        dynamodb = table(self.table_name)
        try:
            dynamodb.put_item(**kwargs)
            return True
        except dynamodb.meta.client.exceptions.ConditionalCheckFailedException:
            return False


def key(runbook: str, target: str) -> dict:
    return {"pk": PARTITION, "sk": f"{runbook}#{target}"}
