"""Consecutive-failure and -success thresholds turn noisy probe results into UP and DOWN.

Counters are capped at their threshold, so a monitor that stays UP (or DOWN) leaves its state
unchanged from cycle to cycle and costs no write.

>>> state = MonitorState()
>>> state, changed = fold_check(state, ok=False, reason="timeout after 5s", now=0, failure_threshold=1,
...                          success_threshold=1)
>>> state.status, changed
('DOWN', True)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

UNKNOWN, UP, DOWN = "UNKNOWN", "UP", "DOWN"
ALARM_STATE = {UP: "OK", DOWN: "ALARM", UNKNOWN: "INSUFFICIENT_DATA"}


@dataclass(frozen=True)
class MonitorState:
    status: str = UNKNOWN
    failures: int = 0  # consecutive failed cycles, capped at failure_threshold
    successes: int = 0  # consecutive good cycles, capped at success_threshold
    since: float = 0.0  # when `status` began (epoch seconds)
    reason: Optional[str] = None  # why it went DOWN


@dataclass(frozen=True)
class Transition:
    monitor: str
    old: str
    new: str
    reason: str
    at: float

    @property
    def publishable(self) -> bool:
        """Only changes that involve DOWN wake anyone; UNKNOWN -> UP is the first sighting."""
        return DOWN in (self.old, self.new)


def fold_check(
    state: MonitorState,
    ok: bool,
    reason: Optional[str],
    now: float,
    failure_threshold: int,
    success_threshold: int,
) -> tuple[MonitorState, bool]:
    """Fold one cycle's result into the state; returns (new state, whether status changed)."""
    if ok:
        successes = min(state.successes + 1, success_threshold)
        new = replace(state, successes=successes, failures=0)
        if state.status != UP and successes >= success_threshold:
            return replace(new, status=UP, since=now, reason=None), True
        return new, False
    failures = min(state.failures + 1, failure_threshold)
    new = replace(state, failures=failures, successes=0)
    if state.status != DOWN and failures >= failure_threshold:
        return replace(new, status=DOWN, since=now, reason=reason), True
    return new, False
