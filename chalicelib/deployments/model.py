"""A deployment as the state table holds it: where it is, what it meant to do next, its history.

`intent` is written before every listener change and cleared after the read-back, so a crash
between two AWS calls leaves a record that says what was under way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
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
