"""What a deployment does next, decided without AWS: move, wait, hold, roll back, restore.

Every state has a deadline and a default exit, so none is ever stuck:

- shifting: gates fail -> roll back; held past `deadline` (gates inconclusive, or `advance`
  not run) -> roll back; otherwise the next move once `next_move_at` has passed.
- rolled_back / aborted with stickiness off: restore it at `restore_stickiness_at` (by then
  every stickiness cookie issued for the candidate has expired).
- promoted, rolled_back, aborted: final; a new `start` replaces them.

>>> decide(record, now=1000.0, verdict=Verdict("pass", "gates hold", "gates"))  # doctest: +SKIP
Move(action='move', percent=50, reason='step 2 of 3', by='schedule')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from chalicelib.deployments.model import SHIFTING, Record

OUTCOMES = ("pass", "hold", "fail")
MIN_HOLD = 600.0  # the least a step may be held on inconclusive gates before rolling back


@dataclass(frozen=True)
class Verdict:
    """The gates' answer: pass, hold (inconclusive: never a move forward) or fail."""

    outcome: str
    reason: str
    by: str  # what decided: "gates", "gate:targets", "monitor:web", "alarm:web-5xx-high", ...

    @property
    def failed(self) -> bool:
        return self.outcome == "fail"


PASS = Verdict("pass", "gates hold", "gates")


@dataclass(frozen=True)
class Move:
    action: str  # move | promote | wait | hold | rollback | restore | none
    percent: Optional[int] = None
    reason: str = ""
    by: str = "schedule"


def hold_limit(step_interval: float) -> float:
    """How long past its planned move a step may be held."""
    return max(2 * step_interval, MIN_HOLD)


def decide(record: Record, now: float, verdict: Verdict) -> Move:
    if record.state != SHIFTING:
        if record.restore_stickiness_at is not None and now >= record.restore_stickiness_at:
            return Move("restore", 0, "stickiness cookies for the candidate have expired")
        return Move("none")
    if verdict.failed:
        return Move("rollback", 0, verdict.reason, verdict.by)
    if record.deadline is not None and now >= record.deadline:
        return Move("rollback", 0, f"step held past its deadline: {verdict.reason}", "deadline")
    if record.next_move_at is not None and now < record.next_move_at:
        return Move("wait", record.percent, "step is baking")
    if verdict.outcome == "hold":
        return Move("hold", record.percent, verdict.reason, verdict.by)
    nxt = record.step + 1
    if nxt >= len(record.plan):  # every step applied: promoted already in effect
        return Move("promote", 100, "plan complete")
    percent = record.plan[nxt]
    action = "promote" if percent == 100 else "move"
    return Move(action, percent, f"step {nxt + 1} of {len(record.plan)}")


def timings(now: float, step_interval: float) -> tuple[float, float]:
    """(next_move_at, deadline) for a step applied at `now`."""
    next_move_at = now + step_interval
    return next_move_at, next_move_at + hold_limit(step_interval)
