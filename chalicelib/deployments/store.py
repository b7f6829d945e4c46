"""Deployments in the state table (pk="deployment", sk=name), written with a version check so
two invocations (advance and an alarm's rollback) never overwrite each other's move.

The item layout lives here alone: the model knows no keys and no DynamoDB numbers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Optional

from chalicelib.aws import dynamodb
from chalicelib.deployments.model import Intent, Record

PARTITION = "deployment"
TIMES = ("next_move_at", "deadline", "restore_stickiness_at")  # absent while None


class Conflict(RuntimeError):
    """Another invocation changed the deployment since it was read: read it again."""


class DeploymentStore:
    """>>> DeploymentStore("autoheal-state").get("web")  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def get(self, name: str) -> Optional[Record]:
        item = dynamodb.get(self.table_name, PARTITION, name)
        return from_item(item) if item else None

    def all(self) -> list[Record]:
        return [from_item(item) for item in dynamodb.query(self.table_name, PARTITION)]

    def save(self, record: Record) -> Record:
        """Write `record` if nobody wrote since it was read; returns it with the new version."""
        saved = replace(record, version=record.version + 1)
        if record.version == 0:
            written = dynamodb.put(self.table_name, to_item(saved), "attribute_not_exists(pk)")
        else:
            written = dynamodb.put(self.table_name, to_item(saved), "version = :v", {":v": record.version})
        if not written:
            raise Conflict(f"deployment {record.name!r} changed meanwhile")
        return saved

    def replace_finished(self, record: Record, previous: Optional[Record]) -> Record:
        """Start a new deployment over a finished one (version carried on, so a race still fails)."""
        return self.save(replace(record, version=previous.version if previous else 0))


def to_item(record: Record) -> dict[str, Any]:
    """The stored layout; times are kept to the millisecond."""
    item: dict[str, Any] = {
        "pk": PARTITION,
        "sk": record.name,
        "state": record.state,
        "stable": record.stable,
        "candidate": record.candidate,
        "listener_arn": record.listener_arn,
        "stable_arn": record.stable_arn,
        "candidate_arn": record.candidate_arn,
        "plan": list(record.plan),
        "strategy": record.strategy,
        "step_interval": millis(record.step_interval),
        "step": record.step,
        "percent": record.percent,
        "stickiness": {k: millis(v) if isinstance(v, float) else v for k, v in record.stickiness.items()},
        "started_at": millis(record.started_at),
        "moved_at": millis(record.moved_at),
        "history": [dict(h) for h in record.history],
        "version": record.version,
    }
    for key in TIMES:
        if getattr(record, key) is not None:
            item[key] = millis(getattr(record, key))
    if record.intent is not None:
        intent = record.intent
        item["intent"] = {
            "kind": intent.kind,
            "percent": intent.percent,
            "by": intent.by,
            "reason": intent.reason,
        }
    return item


def from_item(item: Mapping[str, Any]) -> Record:
    intent = item.get("intent")
    return Record(
        name=str(item["sk"]),
        state=str(item["state"]),
        stable=str(item["stable"]),
        candidate=str(item["candidate"]),
        listener_arn=str(item["listener_arn"]),
        stable_arn=str(item["stable_arn"]),
        candidate_arn=str(item["candidate_arn"]),
        plan=tuple(int(p) for p in item["plan"]),
        strategy=str(item["strategy"]),
        step_interval=float(item["step_interval"]),
        step=int(item["step"]),
        percent=int(item["percent"]),
        stickiness=dict(item.get("stickiness", {})),
        started_at=float(item["started_at"]),
        moved_at=float(item["moved_at"]),
        next_move_at=optional_float(item.get("next_move_at")),
        deadline=optional_float(item.get("deadline")),
        restore_stickiness_at=optional_float(item.get("restore_stickiness_at")),
        intent=Intent(
            str(intent["kind"]), int(intent["percent"]), str(intent["by"]), str(intent.get("reason", ""))
        )
        if intent
        else None,
        history=tuple(dict(h) for h in item.get("history", [])),
        version=int(item["version"]),
    )


def millis(value: float) -> float:
    return round(value, 3)


def optional_float(value: Any) -> Optional[float]:
    return None if value is None else float(value)
