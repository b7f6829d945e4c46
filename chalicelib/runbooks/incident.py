"""An incident: one alarm subject (a monitor or an alarm name) from ALARM until it is healed.

It carries where its runbook is (`RunPosition`), so a runbook that outlives one invocation
continues from there on the next, and the story people are told.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Mapping, Optional

OPEN, RESOLVED = "open", "resolved"
# RunPosition.state
RUNNING, PAUSED, HEALED, ESCALATED, STOPPED = "running", "paused", "healed", "escalated", "stopped"
STORY_LIMIT = 60  # lines kept; the oldest go first
# A run marked RUNNING whose invocation went quiet this long is taken to have died with it
# (the longest Lambda runs 15 minutes); it no longer blocks a new run.
STALE_RUN_SECONDS = 960.0


@dataclass
class RunPosition:
    runbook: str
    targets: list[str]
    step: int = 0
    state: str = RUNNING
    step_started_at: Optional[float] = None  # wall clock, so a later invocation keeps the deadline
    verify_streak: int = 0
    commands: list[str] = field(default_factory=list)
    lease_owner: str = ""
    heartbeat: float = 0.0  # wall clock of the last step taken by the invocation running it


@dataclass
class Incident:
    key: str
    title: str
    opened_at: float
    reason: str
    status: str = OPEN
    run: Optional[RunPosition] = None
    story: list[str] = field(default_factory=list)
    last_notified_at: float = 0.0
    resolved_at: Optional[float] = None
    version: int = 0

    def run_active(self, now: float) -> bool:
        """Paused, or running in a live invocation: a new run must not start beside it."""
        return self.run is not None and (self.run.state == PAUSED or self.run_in_flight(now))

    def run_in_flight(self, now: float) -> bool:
        """Another invocation is executing the run right now: it alone may write the incident."""
        run = self.run
        return run is not None and run.state == RUNNING and now - run.heartbeat < STALE_RUN_SECONDS

    def tell(self, at: float, line: str) -> str:
        """Add a line to the story (timestamped, UTC) and return it."""
        entry = f"{clock_time(at)} {line}"
        self.story = [*self.story, entry][-STORY_LIMIT:]
        return entry

    def to_item(self) -> dict[str, Any]:
        item = asdict(self)
        item["run"] = asdict(self.run) if self.run else None
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Incident:
        data = {k: plain(v) for k, v in item.items() if k in cls.__dataclass_fields__}
        run = data.pop("run", None)
        incident = cls(**data)
        incident.run = RunPosition(**run) if run else None
        return incident


def clock_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def plain(value: Any) -> Any:
    """DynamoDB gives Decimals back; the model wants floats and ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
