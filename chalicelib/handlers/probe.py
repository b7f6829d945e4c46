"""The `probe` function: probe every monitor, fold results into UP/DOWN, tell the alarms topic.

One invocation covers one schedule tick (a minute). With `settings.probe_every` it runs several
cycles inside that minute, starting none that could not finish before the next tick or the
Lambda's deadline, so invocations never overlap and detection is not bound to the one-minute
floor of EventBridge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Callable

from aws_lambda_powertools import Logger

from chalicelib.alarms.message import probe_alarm_message
from chalicelib.aws.topics import publish_json
from chalicelib.config.model import Config
from chalicelib.metrics import emit_probe_metrics
from chalicelib.probe.engine import BACKOFF, ProbeEngine
from chalicelib.probe.result import ProbeResult
from chalicelib.state.store import StateStore
from chalicelib.state.thresholds import ALARM_STATE, DOWN, MonitorState, Transition, advance
from chalicelib.statuspage.site import site_for

logger = Logger(service="autoheal", child=True)

TICK_SECONDS = 60.0  # the EventBridge schedule's rate
RESERVE_SECONDS = 3.0  # kept back from the deadline for writes and publishing
RESERVE_SHARE = 0.2  # ...or this share of a short invocation, whichever is less


@dataclass
class Invocation:
    """What one invocation saw and did; becomes the function's return value."""

    cycles: int = 0
    results: dict[str, ProbeResult] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self, states: dict[str, MonitorState]) -> dict:
        monitors = {}
        for name, result in self.results.items():
            entry = result.as_dict()
            entry["state"] = states.get(name, MonitorState()).status
            monitors[name] = entry
        return {
            "cycles": self.cycles,
            "monitors": monitors,
            "transitions": [f"{t.monitor}: {t.old} -> {t.new}" for t in self.transitions],
            "errors": self.errors,
        }


class ProbeRun:
    """>>> ProbeRun(config, ProbeEngine()).invoke(deadline=time.monotonic() + 60)  # doctest: +SKIP"""

    def __init__(
        self,
        config: Config,
        engine: ProbeEngine,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.engine = engine
        self.store = StateStore(config.settings.state_table)
        self.clock = clock
        self.monotonic = monotonic

    def invoke(self, deadline: float) -> dict:
        """Probe until the tick's minute is up; `deadline` is the Lambda's, on the monotonic clock."""
        started = self.monotonic()
        deadline -= min(RESERVE_SECONDS, RESERVE_SHARE * max(0.0, deadline - started))
        window_end = min(deadline, started + TICK_SECONDS - RESERVE_SECONDS)
        run = Invocation()
        states, trusted = self.load_states(run)
        # A cold container has no timings of its own: start what was failing first, so hung
        # backends begin their timeouts at once instead of queueing behind quick answers.
        failing = [name for name, state in states.items() if state.status == DOWN or state.failures]
        self.engine.prefer(self.config.monitors, failing)
        every = self.config.settings.probe_every
        budget = self.cycle_budget()
        next_start = started
        while True:
            self.cycle(run, states, trusted, deadline)
            if every is None:
                break
            next_start += every
            if next_start + budget > window_end:
                break
            time.sleep(max(0.0, next_start - self.monotonic()))
        return run.summary(states)

    def cycle_budget(self) -> float:
        """The longest a cycle can take: the slowest monitor's attempts and backoffs."""
        return max(
            (m.timeout * m.attempts + BACKOFF * m.retries for m in self.config.monitors),
            default=0.0,
        )

    def cycle(self, run: Invocation, states: dict[str, MonitorState], trusted: bool, deadline: float) -> None:
        results = self.engine.run(self.config.monitors, deadline)
        run.cycles += 1
        run.results = {r.monitor: r for r in results}
        for result in results:
            if not result.ok and not result.skipped:
                logger.warning(
                    f"{result.monitor}: {result.reason}",
                    extra={
                        "monitor": result.monitor,
                        "reason": result.reason,
                        "latency_ms": result.latency_ms,
                    },
                )
        emit_probe_metrics(self.config.settings.metrics_namespace, results)
        changed, transitions = self.fold(states, results)
        self.save(run, changed)
        for transition in transitions:
            log_transition(transition)
            run.transitions.append(transition)
            if trusted and transition.publishable:
                self.publish(run, transition)
        self.publish_status(run, states)

    def fold(
        self, states: dict[str, MonitorState], results: list[ProbeResult]
    ) -> tuple[dict[str, MonitorState], list[Transition]]:
        changed: dict[str, MonitorState] = {}
        transitions: list[Transition] = []
        now = self.clock()
        # The engine returns one result per monitor, in config order.
        for monitor, result in zip(self.config.monitors, results, strict=True):
            if result.skipped:
                continue
            old = states.get(result.monitor, MonitorState())
            new, status_changed = advance(
                old, result.ok, result.reason, now, monitor.failure_threshold, monitor.success_threshold
            )
            if new != old:
                states[result.monitor] = changed[result.monitor] = new
            if status_changed:
                reason = result.reason or f"{monitor.success_threshold} consecutive good checks"
                transitions.append(Transition(result.monitor, old.status, new.status, reason, now))
        return changed, transitions

    # -- AWS side effects: each failure is reported in the summary, never lost silently ----------
    def load_states(self, run: Invocation) -> tuple[dict[str, MonitorState], bool]:
        try:
            return self.store.load(), True
        except Exception as exc:  # noqa: BLE001 - botocore already retried transient errors
            report(run, "state read failed; transitions are not published this time", exc)
            return {}, False

    def save(self, run: Invocation, changed: dict[str, MonitorState]) -> None:
        try:
            self.store.save(changed)
        except Exception as exc:  # noqa: BLE001
            report(run, f"state write failed for {', '.join(sorted(changed))}", exc)

    def publish(self, run: Invocation, transition: Transition) -> None:
        settings = self.config.settings
        message = probe_alarm_message(
            monitor=transition.monitor,
            new_state=ALARM_STATE[transition.new],
            old_state=ALARM_STATE[transition.old],
            reason=transition.reason,
            namespace=settings.metrics_namespace,
            changed_at=datetime.fromtimestamp(transition.at, UTC),
        )
        try:
            publish_json(settings.alarm_topic, message, subject=f"{transition.monitor} is {transition.new}")
        except Exception as exc:  # noqa: BLE001
            report(run, f"publishing {transition.monitor} {transition.new} failed", exc)

    def publish_status(self, run: Invocation, states: dict[str, MonitorState]) -> None:
        """Every cycle: the site records it, and writes only in the cycle something changed."""
        try:
            site_for(self.config).cycle(states, run.results, self.clock())
        except Exception as exc:  # noqa: BLE001
            report(run, "status site update failed", exc)


def report(run: Invocation, what: str, exc: Exception) -> None:
    message = f"{what}: {type(exc).__name__}: {exc}"
    run.errors.append(message)
    logger.error(message)


def log_transition(transition: Transition) -> None:
    logger.info(
        f"{transition.monitor} {transition.old} -> {transition.new}",
        extra={
            "monitor": transition.monitor,
            "old": transition.old,
            "new": transition.new,
            "reason": transition.reason,
        },
    )
