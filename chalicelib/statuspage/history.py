"""Honest uptime history, kept compact: a daily rollup per monitor (pure, no AWS).

A minute is one of four states:

- ``up``: the probe ran and the monitor answered as expected;
- ``down``: the probe ran and it did not (after its retries);
- ``maintenance``: its component was in maintenance (recorded, but left out of uptime);
- ``unknown``: the probe did not run in that minute (a heartbeat gap): never counted as up.

Within one minute the worst wins (down > maintenance > up), so sub-minute probing cannot hide
a failure. Unknown minutes are not stored: they are whatever a day's elapsed minutes leave
over. A day keeps minutes per state, the same per hour (for the 24 h figure), a latency
histogram (p50/p95 without keeping samples) and the coarse reasons of its down minutes: a few
hundred bytes per monitor and day, so 90 days stay small.

>>> day = DayRollup("2025-01-01")
>>> day.add_minute(UP, 0); day.add_latency(120.0); day.up, day.p50()
(1, 150)
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Iterable, Mapping, Optional

UP, DOWN, MAINTENANCE, UNKNOWN = "up", "down", "maintenance", "unknown"
RECORDED = (UP, DOWN, MAINTENANCE)
SEVERITY = {UNKNOWN: 0, UP: 1, MAINTENANCE: 2, DOWN: 3}
MINUTES_PER_DAY = 1440
# Histogram bucket upper bounds in ms; percentiles are reported as the bound of their bucket
# ("p95 <= 300 ms"), which is what a status page needs and keeps a day to ~20 numbers.
LATENCY_BOUNDS = (10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000)
OVERFLOW_MS = 30000  # reported for samples above the last bound


def day_of(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def minute_of(epoch: float) -> int:
    return int(epoch // 60)


@dataclass
class DayRollup:
    """One monitor's day (UTC): minutes per recorded state, per hour too, latency, reasons."""

    day: str
    up: int = 0
    down: int = 0
    maintenance: int = 0
    hours: dict[int, list[int]] = field(default_factory=dict)  # hour -> [up, down, maintenance]
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS) + 1))
    reasons: dict[str, int] = field(default_factory=dict)  # coarse reason -> down minutes

    def add_minute(self, state: str, hour: int, reason: Optional[str] = None) -> None:
        if state not in RECORDED:
            return
        setattr(self, state, getattr(self, state) + 1)
        self.hours.setdefault(hour, [0, 0, 0])[RECORDED.index(state)] += 1
        if state == DOWN and reason:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def add_latency(self, ms: float) -> None:
        self.latency[bisect.bisect_left(LATENCY_BOUNDS, ms)] += 1

    def merge(self, other: DayRollup) -> None:
        self.up += other.up
        self.down += other.down
        self.maintenance += other.maintenance
        for hour, counts in other.hours.items():
            mine = self.hours.setdefault(hour, [0, 0, 0])
            for i, n in enumerate(counts):
                mine[i] += n
        self.latency = [a + b for a, b in zip(self.latency, other.latency, strict=True)]
        for reason, n in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n

    @property
    def recorded(self) -> int:
        return self.up + self.down + self.maintenance

    def unknown(self, elapsed_minutes: int = MINUTES_PER_DAY) -> int:
        return max(0, elapsed_minutes - self.recorded)

    def percentile(self, share: float) -> Optional[int]:
        total = sum(self.latency)
        if not total:
            return None
        rank, seen = share * total, 0
        for i, count in enumerate(self.latency):
            seen += count
            if seen >= rank:
                return LATENCY_BOUNDS[i] if i < len(LATENCY_BOUNDS) else OVERFLOW_MS
        return OVERFLOW_MS

    def p50(self) -> Optional[int]:
        return self.percentile(0.50)

    def p95(self) -> Optional[int]:
        return self.percentile(0.95)

    def uptime(self) -> Optional[float]:
        """Percent of up among up+down minutes; None when nothing was measured."""
        return percent(self.up, self.up + self.down)

    # -- storage shape: short keys, plain ints (DynamoDB or JSON) ---------------------------------
    def to_dict(self) -> dict:
        return {
            "u": self.up,
            "d": self.down,
            "m": self.maintenance,
            "h": {str(h): list(c) for h, c in sorted(self.hours.items())},
            "l": list(self.latency),
            "r": dict(self.reasons),
        }

    @classmethod
    def from_dict(cls, day: str, data: Mapping) -> DayRollup:
        latency = [int(n) for n in data.get("l", [])]
        size = len(LATENCY_BOUNDS) + 1
        return cls(
            day=day,
            up=int(data.get("u", 0)),
            down=int(data.get("d", 0)),
            maintenance=int(data.get("m", 0)),
            hours={int(h): [int(n) for n in c] for h, c in data.get("h", {}).items()},
            latency=(latency + [0] * size)[:size],
            reasons={str(r): int(n) for r, n in data.get("r", {}).items()},
        )


def percent(part: int, whole: int) -> Optional[float]:
    return None if whole <= 0 else round(100.0 * part / whole, 3)


@dataclass
class Minute:
    state: str
    reason: Optional[str] = None


class Accumulator:
    """Minutes and latencies seen since the last flush, kept in memory across warm invocations.

    A minute stays open while cycles may still land in it; `drain(now)` hands over only closed
    minutes, so a minute is never counted twice.
    """

    def __init__(self) -> None:
        self.minutes: dict[str, dict[int, Minute]] = {}
        self.latencies: dict[str, list[tuple[int, float]]] = {}

    def record(
        self, monitor: str, at: float, state: str, latency_ms: Optional[float], reason: Optional[str] = None
    ) -> None:
        minutes = self.minutes.setdefault(monitor, {})
        minute = minute_of(at)
        seen = minutes.get(minute)
        if seen is None or SEVERITY[state] > SEVERITY[seen.state]:
            minutes[minute] = Minute(state, reason if state == DOWN else None)
        if latency_ms is not None and state != DOWN:
            self.latencies.setdefault(monitor, []).append((minute, latency_ms))

    def drain(self, now: float, everything: bool = False) -> dict[str, dict[str, DayRollup]]:
        """Closed minutes (all with `everything`) as rollups: {day: {monitor: DayRollup}}."""
        open_minute = minute_of(now)
        out: dict[str, dict[str, DayRollup]] = {}

        def rollup(monitor: str, minute: int) -> tuple[DayRollup, int]:
            at = datetime.fromtimestamp(minute * 60, UTC)
            day = at.strftime("%Y-%m-%d")
            return out.setdefault(day, {}).setdefault(monitor, DayRollup(day)), at.hour

        for monitor, minutes in self.minutes.items():
            for minute in sorted(m for m in minutes if everything or m < open_minute):
                seen = minutes.pop(minute)
                target, hour = rollup(monitor, minute)
                target.add_minute(seen.state, hour, seen.reason)
        for monitor, samples in self.latencies.items():
            keep = []
            for minute, ms in samples:
                if everything or minute < open_minute:
                    rollup(monitor, minute)[0].add_latency(ms)
                else:
                    keep.append((minute, ms))
            self.latencies[monitor] = keep
        return out

    def pending(self) -> bool:
        return any(self.minutes.values())


def merge_into(
    history: dict[str, dict[str, DayRollup]], delta: Mapping[str, Mapping[str, DayRollup]]
) -> None:
    for day, monitors in delta.items():
        for monitor, rollup in monitors.items():
            history.setdefault(day, {}).setdefault(monitor, DayRollup(day)).merge(rollup)


def last_days(now: float, count: int) -> list[str]:
    """The `count` UTC days ending today, oldest first."""
    today = datetime.fromtimestamp(now, UTC).date()
    return [(today - timedelta(days=count - 1 - i)).isoformat() for i in range(count)]


def elapsed_minutes(day: str, now: float) -> int:
    """Minutes of `day` that have passed by `now` (1440 for a past day)."""
    start = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
    return max(0, min(MINUTES_PER_DAY, int((now - start) // 60)))


def uptime_over(rollups: Iterable[DayRollup]) -> Optional[float]:
    up = down = 0
    for rollup in rollups:
        up += rollup.up
        down += rollup.down
    return percent(up, up + down)
