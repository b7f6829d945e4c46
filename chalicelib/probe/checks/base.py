"""The one interface every probe kind implements (Gatus-style)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

from chalicelib.config.model import Monitor


@dataclass(frozen=True)
class Outcome:
    """One attempt: ok, how long the answer took, and why it failed."""

    ok: bool
    latency_ms: Optional[float] = None  # None when nothing answered
    reason: Optional[str] = None

    @classmethod
    def failed(cls, reason: str, latency_ms: Optional[float] = None) -> Outcome:
        return cls(ok=False, latency_ms=latency_ms, reason=reason)


class Check(Protocol):
    """Makes ONE attempt against a monitor, never running past `timeout` seconds.

    Implementations must not raise: every failure becomes an `Outcome` with a reason.
    """

    def attempt(self, monitor: Monitor, timeout: float) -> Outcome: ...
