"""Scheduled maintenance windows in their own time zone, correct across clock changes (pure).

Rules, so that a window means the same thing every night of the year:

- A cron window starts at each local time the expression matches (cronsim's rules, which are
  Debian cron's): a start inside the hour the clocks skip runs at the end of the gap (02:30 on
  the spring-forward night starts at 03:00); a start inside the hour that repeats runs once, at
  its first occurrence.
- A one-off `start` without an offset is local to the window's zone; a time that does not
  exist is read with the offset before the change (Python's fold=0), a repeated one as its
  first occurrence.
- `duration` is elapsed time: a 2 h window lasts two real hours even across a change.

>>> from chalicelib.config.model import MaintenanceWindow
>>> w = MaintenanceWindow(duration=3600, message="db upgrade", cron="0 2 * * *", time_zone="UTC")
>>> [iso(s) for s, _ in occurrences(w, 0, 2 * 86400)]
['1970-01-01T02:00:00Z', '1970-01-02T02:00:00Z']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Iterable, Iterator, Sequence

from chalicelib import cron
from chalicelib.config.model import MaintenanceWindow


@dataclass(frozen=True)
class Occurrence:
    """One concrete window: [start, end) in epoch seconds."""

    start: float
    end: float
    message: str
    components: tuple[str, ...]  # empty: every component

    def active(self, now: float) -> bool:
        return self.start <= now < self.end

    def covers(self, component: str) -> bool:
        return not self.components or component in self.components


def occurrences(window: MaintenanceWindow, begin: float, end: float) -> list[tuple[float, float]]:
    """Every (start, end) of `window` that overlaps [begin, end), in order."""
    found = []
    for start in _starts(window, begin - window.duration, end):
        if start >= end:
            break
        if start + window.duration > begin:
            found.append((start, start + window.duration))
    return found


def _starts(window: MaintenanceWindow, after: float, until: float) -> Iterator[float]:
    if window.start is not None:
        start = window.start if window.start.tzinfo else window.start.replace(tzinfo=UTC)
        yield start.timestamp()
        return
    if not window.cron:
        return
    yield from cron.times(window.cron, window.time_zone, after, until)


def concrete(windows: Iterable[MaintenanceWindow], begin: float, end: float) -> list[Occurrence]:
    """All windows' occurrences overlapping [begin, end), sorted by start."""
    found = [
        Occurrence(start, stop, w.message, w.components)
        for w in windows
        for start, stop in occurrences(w, begin, end)
    ]
    return sorted(found, key=lambda o: (o.start, o.end))


def active(windows: Sequence[MaintenanceWindow], now: float) -> list[Occurrence]:
    return [o for o in concrete(windows, now, now + 1) if o.active(now)]


def upcoming(
    windows: Sequence[MaintenanceWindow], now: float, horizon: float = 14 * 86400
) -> list[Occurrence]:
    """Windows that start within `horizon`: the status page announces them in advance."""
    return [o for o in concrete(windows, now, now + horizon) if o.start > now]


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
