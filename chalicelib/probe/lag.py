"""How late the probe's own event loop ran: a timeout is a verdict only if the loop kept time.

A probe process short of CPU (a Lambda at a small memory size, a burst of work on its core) runs
its timers late and reads answers late, so monitors that answered in time time out. For a
region's own fold that is one failed check among its thresholds; for a vantage point's vote it
can be the second DOWN that lets a restart go. `LoopLag` watches the loop while a run probes; a
timed-out attempt that lost a good share of its budget to a stalled loop is `starved`.
"""

from __future__ import annotations

import asyncio
import time

TICK = 0.05  # the watch's sleep: a wake-up later than this plus JITTER is a stall
JITTER = 0.05  # a loop busy with hundreds of probes wakes this late without being starved
STARVED_SECONDS = 0.25  # an attempt losing more than this, and more than...
STARVED_SHARE = 0.25  # ...this share of its budget to stalls, timed out for want of CPU


class LoopLag:
    """>>> lag = LoopLag(); watch = asyncio.ensure_future(lag.watch())  # doctest: +SKIP"""

    def __init__(self) -> None:
        self.stalls: list[tuple[float, float]] = []  # (due, woke) of each late wake-up

    async def watch(self) -> None:
        """Sleep TICK after TICK until cancelled, keeping each wake-up that came late."""
        while True:
            due = time.monotonic() + TICK
            await asyncio.sleep(TICK)
            woke = time.monotonic()
            if woke - due > JITTER:
                self.stalls.append((due, woke))

    def stalled(self, start: float, end: float) -> float:
        """Seconds of [start, end] the loop was seen stalled."""
        return sum(max(0.0, min(woke, end) - max(due, start)) for due, woke in self.stalls)


def starved(budget: float, lost: float) -> bool:
    """Did an attempt with `budget` seconds that lost `lost` of them to stalls time out for want
    of CPU rather than of an answer?

    >>> starved(2.0, 0.4), starved(2.0, 0.6), starved(0.5, 0.2), starved(0.5, 0.3)
    (False, True, False, True)
    """
    return lost > max(STARVED_SECONDS, STARVED_SHARE * budget)
