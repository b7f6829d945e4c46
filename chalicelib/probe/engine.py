"""Probes every monitor concurrently on the probe loop, with retries, never past the cycle's deadline."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import time
from collections import deque
from typing import Iterable, Optional, Sequence

from chalicelib.config.model import Monitor
from chalicelib.probe import loop
from chalicelib.probe.checks import Check, Outcome, build_checks
from chalicelib.probe.checks.errors import timeout_reason
from chalicelib.probe.connections import Cycle, Pool
from chalicelib.probe.lag import LoopLag, starved
from chalicelib.probe.result import ProbeResult
from chalicelib.probe.turns import SWEEP, Turns, overtaken_for

logger = logging.getLogger(__name__)

DEFAULT_WORKERS = 256  # probes in flight at once; see bench/probe_fanout.py
BACKOFF = 0.2  # between the attempts of one monitor
MIN_ATTEMPT = 0.05  # an attempt with less time than this could tell nothing
GRACE = 0.25  # how long run() waits past the deadline for attempts to wind down
SKIPPED = "skipped: out of time"
STUCK = "timeout: no answer by the deadline"
HISTORY = 5  # cycle durations kept for the handler's cycle budget
LONG = 0.5  # a monitor whose last run took this share of its timeout or more starts first
QUICK = 0.1  # under this share it is quick: started before the middling ones


class ProbeEngine:
    """Runs the checks of many monitors on the probe's event loop, `workers` at a time.

    Create it once at module level: its keep-alive pool then survives warm Lambda
    invocations, as the loop does.

    >>> ENGINE = ProbeEngine(workers=64)
    >>> results = ENGINE.run(config.monitors, deadline=time.monotonic() + 20)  # doctest: +SKIP
    >>> [r.as_dict() for r in results]  # doctest: +SKIP
    [{'status': 'up', 'latency_ms': 42, 'reason': None}, ...]
    """

    def __init__(self, workers: int = DEFAULT_WORKERS) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.pool = Pool()
        self._checks: dict[str, Check] = build_checks()
        self._cost: dict[str, float] = {}  # seconds each monitor took in the last run
        self.cycle_seconds: deque[float] = deque(maxlen=HISTORY)  # wall time of recent runs

    def run(self, monitors: Sequence[Monitor], deadline: float) -> list[ProbeResult]:
        """One result per monitor, in their order; `deadline` is a time.monotonic() value.

        Monitors start by what their last run took (see `_turn`): with more monitors than
        workers, a hung backend then starts its timeout at once instead of queueing behind
        quick answers, and the cycle ends sooner. Within the run, an endpoint whose attempt
        waits long has its other monitors started next (see `turns`).
        """
        if not monitors:
            return []
        began = time.monotonic()
        order = sorted(range(len(monitors)), key=lambda i: self._turn(monitors[i]))
        cycle = _Cycle(len(monitors))
        future = loop.submit(self._cycle(monitors, order, deadline, cycle))
        _wait(future, deadline)
        results = [cycle.result(i, monitor) for i, monitor in enumerate(monitors)]
        for i, monitor in enumerate(monitors):
            if cycle.seconds[i] is not None:
                self._cost[monitor.name] = cycle.seconds[i]
            elif cycle.started[i]:
                self._cost[monitor.name] = math.inf  # stuck: first next time
            # never started: keeps its turn (or, unknown, goes first), so it never starves
        self.cycle_seconds.append(time.monotonic() - began)
        return results

    def _turn(self, monitor: Monitor) -> tuple[int, float]:
        """Sort key: first the long (unknown, stuck, or half their timeout and more), then the
        quick (under a tenth of it), then the middling; longest first within each.

        A quick monitor holds its worker for next to nothing, so the quick all go before the
        middling ones: one that has just started hanging (a fresh outage, which no past timing
        predicts) starts its timeout early instead of waiting for workers that middling
        monitors hold, and a middling one, known to end well within its timeout, still ends
        before the long ones do.
        """
        cost = self._cost.get(monitor.name, math.inf)
        if cost >= LONG * monitor.timeout:
            return 0, -cost
        return (1 if cost < QUICK * monitor.timeout else 2), -cost

    def prefer(self, monitors: Sequence[Monitor], failing: Iterable[str]) -> None:
        """Seed a fresh engine's start order from what is known elsewhere (the stored state):
        `failing` monitors are assumed to take their full time, the others little. Knowledge
        from this engine's own runs is never overwritten."""
        slow = set(failing)
        for monitor in monitors:
            if monitor.name not in self._cost:
                self._cost[monitor.name] = monitor.timeout * monitor.attempts if monitor.name in slow else 0.0

    def check(self, monitor: Monitor, deadline: float) -> ProbeResult:
        """One monitor, now: up to 1 + retries attempts, until one is ok or time runs out."""
        return self.run([monitor], deadline)[0]

    async def _cycle(
        self, monitors: Sequence[Monitor], order: list[int], deadline: float, cycle: _Cycle
    ) -> None:
        shared = Cycle(self.pool)
        # Shared: each worker takes the next monitor as it becomes free.
        workers = min(self.workers, len(order))
        urls, timeouts = [m.url for m in monitors], [m.timeout for m in monitors]
        fresh = [i for i, monitor in enumerate(monitors) if monitor.name not in self._cost]
        turns = Turns(order, urls, timeouts, overtaken_for(workers), fresh)
        # `workers` tasks, not one per monitor queued on a semaphore: no task, waiter and
        # handoff per monitor, and monitors start exactly in the order of `turns`. Each run
        # has its own workers (a `verify` beside a cycle adds its own one or two).
        sweeper = asyncio.ensure_future(_sweep(turns)) if workers < len(order) else None
        lag = LoopLag()
        watch = asyncio.ensure_future(lag.watch())
        try:
            await asyncio.gather(
                *(self._worker(turns, monitors, deadline, cycle, shared, lag) for _ in range(workers))
            )
        finally:
            watch.cancel()
            if sweeper is not None:
                sweeper.cancel()

    async def _worker(
        self,
        turns: Turns,
        monitors: Sequence[Monitor],
        deadline: float,
        cycle: _Cycle,
        shared: Cycle,
        lag: LoopLag,
    ) -> None:
        after = None
        while (i := turns.take(start := time.monotonic(), after)) is not None:
            cycle.started[i] = True
            cycle.results[i] = result = await self._check(monitors[i], deadline, shared, lag)
            turns.done(i, answered=result.latency_ms is not None, now=time.monotonic())
            after = i
            if not result.skipped:
                cycle.seconds[i] = time.monotonic() - start

    async def _check(self, monitor: Monitor, deadline: float, shared: Cycle, lag: LoopLag) -> ProbeResult:
        check = self._checks.get(monitor.kind)
        if check is None:
            return _result(monitor, Outcome.failed(f"unknown kind {monitor.kind!r}"), 0)
        last: Optional[Outcome] = None
        attempts = 0
        for number in range(monitor.attempts):
            if number:
                if deadline - time.monotonic() < BACKOFF + MIN_ATTEMPT:
                    break
                await asyncio.sleep(BACKOFF)
            budget = min(monitor.timeout, deadline - time.monotonic())
            if budget < MIN_ATTEMPT:
                break
            last = await _attempt(check, monitor, budget, shared, lag)
            attempts += 1
            if last.ok:
                break
        if last is None:
            return skipped(monitor)
        return _result(monitor, last, attempts)


class _Cycle:
    """What one run's tasks report back to the calling thread, slot by monitor index."""

    def __init__(self, size: int) -> None:
        self.started = [False] * size
        self.results: list[Optional[ProbeResult]] = [None] * size
        self.seconds: list[Optional[float]] = [None] * size

    def result(self, i: int, monitor: Monitor) -> ProbeResult:
        found = self.results[i]
        if found is not None:
            return found
        if self.started[i]:
            return _result(monitor, Outcome.failed(STUCK), attempts=1)
        return skipped(monitor)


async def _sweep(turns: Turns) -> None:
    """Looks at the attempts in flight while monitors still wait for a worker."""
    while turns.pending():
        await asyncio.sleep(SWEEP)
        turns.sweep(time.monotonic())


def _wait(future: concurrent.futures.Future, deadline: float) -> None:
    """Wait for the cycle until the deadline (plus a grace); then cancel what still runs."""
    try:
        future.result(timeout=max(deadline - time.monotonic(), 0.0) + GRACE)
    except concurrent.futures.TimeoutError:
        future.cancel()
    except Exception:  # a bug in the engine itself: reported, the results say the rest
        logger.exception("probe cycle failed")


async def _attempt(check: Check, monitor: Monitor, budget: float, shared: Cycle, lag: LoopLag) -> Outcome:
    """One attempt under one deadline covering DNS, connect, TLS, headers and body."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(budget):
            return await check.attempt(monitor, shared)
    except TimeoutError:
        # The stalls the watch saw, or this timeout's own lateness (a stall it ends, before the
        # watch wakes to see it)
        ended = time.monotonic()
        lost = max(lag.stalled(started, ended), ended - started - budget)
        return Outcome.failed(timeout_reason(budget), starved=starved(budget, lost))
    except Exception as exc:  # a bug in a check must not take the others down
        logger.warning("probe %s: unexpected %s", monitor.name, type(exc).__name__)
        return Outcome.failed(f"error: {type(exc).__name__}")


def skipped(monitor: Monitor) -> ProbeResult:
    return ProbeResult(
        monitor=monitor.name,
        ok=False,
        latency_ms=None,
        reason=SKIPPED,
        attempts=0,
        checked_at=time.time(),
        skipped=True,
    )


def _result(monitor: Monitor, outcome: Outcome, attempts: int) -> ProbeResult:
    return ProbeResult(
        monitor=monitor.name,
        ok=outcome.ok,
        latency_ms=outcome.latency_ms,
        reason=None if outcome.ok else outcome.reason,
        attempts=attempts,
        checked_at=time.time(),
        starved=outcome.starved,
    )
