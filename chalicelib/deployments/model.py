"""A deployment as the state table holds it: where it is, what it meant to do next, its history.

`intent` is written before every listener change and cleared after the read-back, so a crash
between two AWS calls leaves a record that says what was under way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Mapping, Optional

IDLE, SHIFTING, PROMOTED, ROLLED_BACK, ABORTED = "idle", "shifting", "promoted", "rolled_back", "aborted"
STATES = (IDLE, SHIFTING, PROMOTED, ROLLED_BACK, ABORTED)
INTENT_KINDS = ("step", "promote", "rollback", "abort", "restore")
HISTORY_LIMIT = 100  # a DynamoDB item holds 400 KB; the oldest entries go first


@dataclass(frozen=True)
class Intent:
    """A listener change under way: its kind, the candidate's share it sets, and who asked."""

    kind: str  # one of INTENT_KINDS
    percent: int
    by: str  # "person", "gate:<name>", "alarm:<name>", "monitor:<name>", "deadline", "read-back"
    reason: str = ""


@dataclass(frozen=True)
class Record:
    name: str
    state: str
    stable: str  # target group names
    candidate: str
    listener_arn: str
    stable_arn: str
    candidate_arn: str
    plan: tuple[int, ...]
    strategy: str
    step_interval: float
    step: int = -1  # index in `plan` of the last move applied; -1 before the first
    percent: int = 0  # the candidate's share now
    stickiness: Mapping[str, Any] = field(default_factory=lambda: {"Enabled": False})  # as found
    started_at: float = 0.0
    moved_at: float = 0.0
    next_move_at: Optional[float] = None
    deadline: Optional[float] = None
    restore_stickiness_at: Optional[float] = None
    intent: Optional[Intent] = None
    history: tuple[Mapping[str, Any], ...] = ()
    version: int = 0

    @property
    def in_flight(self) -> bool:
        """Something is left to do: a shift, a change under way, or stickiness to restore."""
        return self.state == SHIFTING or self.intent is not None or self.restore_stickiness_at is not None

    def noting(
        self, now: float, event: str, by: str, detail: str = "", percent: Optional[int] = None
    ) -> Record:
        entry = {
            "at": iso(now),
            "event": event,
            "by": by,
            "percent": self.percent if percent is None else percent,
        }
        if detail:
            entry["detail"] = detail[:500]
        return replace(self, history=(self.history + (entry,))[-HISTORY_LIMIT:])


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def to_item(record: Record) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": "deployment",
        "sk": record.name,
        "state": record.state,
        "stable": record.stable,
        "candidate": record.candidate,
        "listener_arn": record.listener_arn,
        "stable_arn": record.stable_arn,
        "candidate_arn": record.candidate_arn,
        "plan": list(record.plan),
        "strategy": record.strategy,
        "step_interval": number(record.step_interval),
        "step": record.step,
        "percent": record.percent,
        "stickiness": {k: number(v) if isinstance(v, float) else v for k, v in record.stickiness.items()},
        "started_at": number(record.started_at),
        "moved_at": number(record.moved_at),
        "history": [dict(h) for h in record.history],
        "version": record.version,
    }
    for key in ("next_move_at", "deadline", "restore_stickiness_at"):
        if getattr(record, key) is not None:
            item[key] = number(getattr(record, key))
    if record.intent is not None:
        item["intent"] = {
            "kind": record.intent.kind,
            "percent": record.intent.percent,
            "by": record.intent.by,
            "reason": record.intent.reason,
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
        stickiness={k: plain(v) for k, v in item.get("stickiness", {}).items()},
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
        history=tuple({k: plain(v) for k, v in h.items()} for h in item.get("history", [])),
        version=int(item["version"]),
    )


def number(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def optional_float(value: Any) -> Optional[float]:
    return None if value is None else float(value)
