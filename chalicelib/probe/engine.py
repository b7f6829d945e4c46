"""Probes every monitor concurrently, with retries, never past the cycle's deadline."""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Iterable, Optional, Sequence

from chalicelib.config.model import Monitor
from chalicelib.probe.checks import Check, Outcome, build_checks, new_session
from chalicelib.probe.result import ProbeResult

logger = logging.getLogger(__name__)

DEFAULT_WORKERS = 256  # see bench/probe_fanout.py: 1000 monitors on 2 cores
BACKOFF = 0.2  # between the attempts of one monitor
MIN_ATTEMPT = 0.05  # an attempt with less time than this could tell nothing
GRACE = 0.25  # how long run() waits past the deadline for attempts to wind down
SKIPPED = "skipped: out of time"
STUCK = "timeout: no answer by the deadline"


class ProbeEngine:
    """Runs the checks of many monitors on a bounded thread pool.

    Create it once at module level: its pooled `requests.Session` then keeps
    connections alive across warm Lambda invocations.

    >>> ENGINE = ProbeEngine(workers=64)
    >>> results = ENGINE.run(config.monitors, deadline=time.monotonic() + 20)  # doctest: +SKIP
    >>> [r.as_dict() for r in results]  # doctest: +SKIP
    [{'status': 'up', 'latency_ms': 42, 'reason': None}, ...]
    """

    def __init__(self, workers: int = DEFAULT_WORKERS) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.session = new_session(pool_size=workers)
        self._checks = build_checks(self.session)
        self._cost: dict[str, float] = {}  # seconds each monitor took in the last run

    def run(self, monitors: Sequence[Monitor], deadline: float) -> list[ProbeResult]:
        """One result per monitor, in their order; `deadline` is a time.monotonic() value.

        Monitors start longest-first by their last run (new ones first of all): with
        more monitors than workers, a hung backend then starts its timeouts at once
        instead of queueing behind quick answers, and the cycle ends sooner.
        """
        if not monitors:
            return []
        order = sorted(range(len(monitors)), key=lambda i: -self._cost.get(monitors[i].name, math.inf))
        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(monitors)), thread_name_prefix="probe")
        try:
            futures = {i: pool.submit(self._timed_check, monitors[i], deadline) for i in order}
            wait(futures.values(), timeout=max(deadline - time.monotonic(), 0.0) + GRACE)
        finally:
            # Queued checks are dropped; a check stuck where no timeout reaches
            # (a slow DNS resolver) is left behind rather than waited for.
            pool.shutdown(wait=False, cancel_futures=True)
        results = [_collect(futures[i], monitor) for i, monitor in enumerate(monitors)]
        self._cost = {m.name: self._cost_of(futures[i], m) for i, m in enumerate(monitors)}
        return results

    def prefer(self, monitors: Sequence[Monitor], failing: Iterable[str]) -> None:
        """Seed a fresh engine's start order from what is known elsewhere (the stored state):
        `failing` monitors are assumed to take their full time, the others little. Knowledge
        from this engine's own runs is never overwritten."""
        slow = set(failing)
        for monitor in monitors:
            if monitor.name not in self._cost:
                self._cost[monitor.name] = monitor.timeout * monitor.attempts if monitor.name in slow else 0.0

    def _timed_check(self, monitor: Monitor, deadline: float) -> tuple[ProbeResult, float]:
        start = time.monotonic()
        result = self.check(monitor, deadline)
        return result, time.monotonic() - start

    def _cost_of(self, future: Future, monitor: Monitor) -> float:
        if future.done() and not future.cancelled():
            result, seconds = future.result()
            if not result.skipped:
                return seconds
        return self._cost.get(monitor.name, math.inf)  # not run: keeps its turn, never starves

    def check(self, monitor: Monitor, deadline: float) -> ProbeResult:
        """One monitor: up to 1 + retries attempts, until one is ok or time runs out."""
        check = self._checks.get(monitor.kind)
        if check is None:
            return _result(monitor, Outcome.failed(f"unknown kind {monitor.kind!r}"), 0)
        last: Optional[Outcome] = None
        attempts = 0
        for number in range(monitor.attempts):
            if number and not _backoff(deadline):
                break
            budget = min(monitor.timeout, deadline - time.monotonic())
            if budget < MIN_ATTEMPT:
                break
            last = _attempt(check, monitor, budget)
            attempts += 1
            if last.ok:
                break
        if last is None:
            return skipped(monitor)
        return _result(monitor, last, attempts)


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
    )


def _backoff(deadline: float) -> bool:
    """Sleep before a retry; False when the retry would not fit before the deadline."""
    if deadline - time.monotonic() < BACKOFF + MIN_ATTEMPT:
        return False
    time.sleep(BACKOFF)
    return True


def _attempt(check: Check, monitor: Monitor, budget: float) -> Outcome:
    try:
        return check.attempt(monitor, budget)
    except Exception as exc:  # a bug in a check must not take the others down
        logger.warning("probe %s: unexpected %s", monitor.name, type(exc).__name__)
        return Outcome.failed(f"error: {type(exc).__name__}")


def _collect(future: Future, monitor: Monitor) -> ProbeResult:
    if future.cancelled():
        return skipped(monitor)
    if not future.done():
        return _result(monitor, Outcome.failed(STUCK), attempts=1)
    return future.result()[0]
