"""The one interface every probe kind implements (Gatus-style), and its registration.

A probe kind of one's own is one module with a `CheckKind` subclass decorated with `@register`
(which URLs it takes, what else it reads of its monitor's section, its `attempt`), and its
import (`chalicelib.plugins`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Protocol, TypeVar

from chalicelib.config.kinds import CHECKS, MonitorKind
from chalicelib.config.model import Monitor

if TYPE_CHECKING:
    from chalicelib.probe.connections import Cycle


@dataclass(frozen=True)
class Outcome:
    """One attempt: ok, how long the answer took, and why it failed."""

    ok: bool
    latency_ms: Optional[float] = None  # None when nothing answered
    reason: Optional[str] = None
    starved: bool = False  # a timeout while the probe's own loop stalled (see probe/lag.py)

    @classmethod
    def failed(cls, reason: str, latency_ms: Optional[float] = None, starved: bool = False) -> Outcome:
        return cls(ok=False, latency_ms=latency_ms, reason=reason, starved=starved)


class Check(Protocol):
    """Makes ONE attempt against a monitor, on the probe loop.

    The engine bounds the attempt with `asyncio.timeout`; implementations let cancellation
    pass and turn every other failure into an `Outcome` with a reason.
    """

    async def attempt(self, monitor: Monitor, cycle: Cycle) -> Outcome: ...


class CheckKind(MonitorKind):
    """A registered probe kind: `MonitorKind`'s config side, and `attempt`."""

    async def attempt(self, monitor: Monitor, cycle: Cycle) -> Outcome:
        raise NotImplementedError


K = TypeVar("K", bound=type[MonitorKind])


def register(kind: K) -> K:
    return CHECKS.register(kind)
