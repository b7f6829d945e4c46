"""The outcome of probing one monitor in one cycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class ProbeResult:
    """What one monitor answered, after its retries.

    >>> r = ProbeResult("web", ok=False, latency_ms=None, reason="connection refused",
    ...                 attempts=2, checked_at=0.0)
    >>> r.as_dict()
    {'status': 'down', 'latency_ms': None, 'reason': 'connection refused'}
    """

    monitor: str  # Monitor.name
    ok: bool
    latency_ms: Optional[float]  # of the last attempt; None when no answer at all
    reason: Optional[str]  # None when ok
    attempts: int
    checked_at: float  # time.time() when finished
    skipped: bool = False  # the cycle's deadline came first: not a failure
    starved: bool = False  # it timed out while the probe's own loop stalled: no verdict on the monitor

    @property
    def status(self) -> str:
        if self.skipped:
            return "skipped"
        return "up" if self.ok else "down"

    def as_dict(self) -> dict:
        latency = None if self.latency_ms is None else int(round(self.latency_ms))
        return {"status": self.status, "latency_ms": latency, "reason": self.reason}
