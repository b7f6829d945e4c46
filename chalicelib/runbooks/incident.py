"""An incident: one outage (a runbook and the targets it acts on, or a component) from the
first failing signal until every signal is OK again or its run verified it healthy.

Its key comes from `runbooks.grouping`. It carries where its runbook is (`RunPosition`), so a
runbook that outlives one invocation continues from there on the next, and the story people are
told.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Mapping, Optional

OPEN, RESOLVED = "open", "resolved"
# RunPosition.state
RUNNING, PAUSED, HEALED, ESCALATED, STOPPED = "running", "paused", "healed", "escalated", "stopped"
STORY_LIMIT = 60  # lines kept; the oldest go first
# A live run checkpoints (and renews its leases) at least every HEARTBEAT_SECONDS; one marked
# RUNNING whose invocation went quiet for STALE_RUN_SECONDS died with it, and `follow_up` takes it
# over. The leases' TTL is the same, so a dead run's targets are free again by then.
HEARTBEAT_SECONDS = 30.0
STALE_RUN_SECONDS = 180.0


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
    heartbeat: float = 0.0  # wall clock of the last checkpoint of the invocation running it
    waves: list[list[str]] = field(default_factory=list)  # targets acted on together, in order
    wave: int = 0  # the wave the current step acts on
    # The current step's own progress (a command sent, when a verify began); cleared when the run
    # moves to another step or wave, so a resumed step never repeats a side effect.
    step_data: dict[str, Any] = field(default_factory=dict)
    # A scheduled run (a nightly restart) acts on every wave, a verify after each, and stops at
    # the first that does not verify; it tells people only when it fails.
    scheduled: bool = False
    admitted_at: float = 0.0  # when its targets' budget was spent (given back if nothing was done)

    @property
    def wave_targets(self) -> list[str]:
        return list(self.waves[self.wave]) if self.waves else list(self.targets)

    def move_to(self, step: int, wave: int) -> None:
        self.step, self.wave, self.step_data = step, wave, {}
        self.step_started_at, self.verify_streak = None, 0


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
    # Alarm names that joined this incident: it resolves when each of them is OK again.
    signals: list[str] = field(default_factory=list)
    # Notices a channel did not take, retried by follow_up: {"notice": {...}, "channels": [...]}.
    unsent: list[dict[str, Any]] = field(default_factory=list)
    escalated_at: Optional[float] = None
    name: str = ""  # what people call it: the first signal's monitor or alarm name
    # Signals that joined because a monitor they depend on was DOWN: they tell nobody on their own.
    dependents: list[str] = field(default_factory=list)
    # Notices held while a channel waits to hear of the incident (group_wait, or its
    # `if_not_healed_within`), so its opening lists every signal of the outage so far.
    outbox: list[dict[str, Any]] = field(default_factory=list)
    holds: dict[str, float] = field(default_factory=dict)  # channel -> when it hears of it
    told: list[str] = field(default_factory=list)  # channels that heard it opened: they hear it end
    quiet: list[str] = field(default_factory=list)  # healed before their delay: the digest tells them

    @property
    def label(self) -> str:
        return self.name or self.key

    def join(self, signal: str) -> None:
        if signal not in self.signals:
            self.signals = [*self.signals, signal]

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
        data = {k: v for k, v in item.items() if k in cls.__dataclass_fields__}
        run = data.pop("run", None)
        incident = cls(**data)
        fields = RunPosition.__dataclass_fields__
        incident.run = RunPosition(**{k: v for k, v in run.items() if k in fields}) if run else None
        return incident


def clock_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")
