"""The `probe` function: probe every monitor, fold results into UP/DOWN, tell the alarms topic.

One invocation covers one schedule tick (a minute). With `settings.probe_every` it runs several
cycles inside that minute, starting none that could not finish before the next tick or the
Lambda's deadline, so invocations never overlap and detection is not bound to the one-minute
floor of EventBridge.

Nothing is lost: a transition's alarm message goes into the monitor's outbox, saved with its new
state, and leaves it only once SNS accepted it, so a publish that fails is retried every cycle
(and by the next invocation) until it goes through. The outboxes are published together, in
batches, each monitor's messages in order, while the status site is rebuilt (see `outbox_flush`).
Publishing has a deadline inside the invocation's: each attempt gives up within seconds, the
first request SNS does not answer (or that finds no time left) lets no other start, and what is
not sent by then stays saved for the next cycle. A state read that fails never leads to a write:
the cycle still probes and emits metrics, and the read is tried again next cycle.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Callable, Optional

from aws_lambda_powertools import Logger

from chalicelib.alarms.message import probe_alarm_message
from chalicelib.config.model import Config
from chalicelib.maintenance.silence import Question, one_reading
from chalicelib.metrics import emit_probe_metrics
from chalicelib.monitoring.outbox_flush import Flushed, OutboxFlush
from chalicelib.probe.engine import BACKOFF, ProbeEngine
from chalicelib.probe.result import ProbeResult
from chalicelib.state.outbox import OUTBOX_LIMIT, trim
from chalicelib.state.store import StateStore
from chalicelib.state.thresholds import ALARM_STATE, DOWN, MonitorState, Transition, fold_check
from chalicelib.statuspage.site import StatusSite
from chalicelib.vantage.gate import QuorumGate

logger = Logger(service="autoheal", child=True)

TICK_SECONDS = 60.0  # the EventBridge schedule's rate
RESERVE_SECONDS = 3.0  # kept back from the deadline for writes and publishing
RESERVE_SHARE = 0.2  # ...or this share of a short invocation, whichever is less
LATE_START = 0.3  # seconds past its start a slot may still begin: the engine's GRACE and some
BUDGET_MARGIN = 1.25  # over the longest recent cycle: room for a fresh outage's timeouts
FINISH_SECONDS = 2.0  # kept after the last publish to save the outbox and update the site


@dataclass
class Invocation:
    """What one invocation saw and did; becomes the function's return value."""

    cycles: int = 0
    results: dict[str, ProbeResult] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    states: dict[str, MonitorState] = field(default_factory=dict)
    outbox: dict[str, list[dict]] = field(default_factory=dict)  # monitor -> messages SNS has not taken
    trusted: bool = False  # the stored state was read: only then may this invocation write it
    dirty: set[str] = field(default_factory=set)  # monitors whose state or outbox is not saved yet
    publish_by: float = math.inf  # monotonic: no publish may start that could end after this
    vantage: list[dict] = field(default_factory=list)  # what the regions' quorum did, per cycle

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
            "outbox_pending": sum(len(messages) for messages in self.outbox.values()),
            **({"vantage": self.vantage} if self.vantage else {}),
        }


class ProbeRun:
    """>>> wiring.probe_run().invoke(deadline=time.monotonic() + 60)  # doctest: +SKIP"""

    def __init__(
        self,
        config: Config,
        engine: ProbeEngine,
        store: StateStore,
        site: Optional[StatusSite] = None,
        under_maintenance: Optional[Question] = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        vantage: Optional[QuorumGate] = None,
    ) -> None:
        """`under_maintenance(monitor, runbook, at)` is the question `on_alarm` asks too."""
        self.config = config
        self.vantage = vantage  # with settings.vantage_points, a quorum of regions decides what is published
        self.engine = engine
        self.store = store
        self.site = site
        self.under_maintenance = under_maintenance
        self.clock = clock
        self.monotonic = monotonic

    def invoke(self, deadline: float) -> dict:
        """Probe until the tick's minute is up; `deadline` is the Lambda's, on the monotonic clock."""
        started = self.monotonic()
        run = Invocation(publish_by=publish_deadline(started, deadline))
        deadline -= min(RESERVE_SECONDS, RESERVE_SHARE * max(0.0, deadline - started))
        window_end = min(deadline, started + TICK_SECONDS - RESERVE_SECONDS)
        if not getattr(self.engine, "cycle_seconds", None):
            # A cold container has no timings of its own: start what was failing first, so hung
            # backends begin their timeouts at once instead of queueing behind quick answers.
            # (A warm one reads the states while it probes: see `cycle`.)
            self.load_states(run)
            failing = [name for name, state in run.states.items() if state.status == DOWN or state.failures]
            self.engine.prefer(self.config.monitors, failing)
        every = self.config.settings.probe_every
        slot = started
        while True:
            # A cycle never runs past its slot, nor into the next tick's invocation.
            slot_end = min(deadline, window_end if every is None else min(slot + every, window_end))
            self.cycle(run, max(slot_end, self.monotonic()))
            if every is None:
                break
            # A slot already missed is skipped, not run late (a cycle ending at its slot's end,
            # plus the engine's grace, is on time for the next one).
            slot = next_slot(slot, every, self.monotonic() - LATE_START)
            if slot + self.cycle_budget() > window_end:
                break
            time.sleep(max(0.0, slot - self.monotonic()))
        return run.summary(run.states)

    def cycle_budget(self) -> float:
        """How long the next cycle needs: the longest of the engine's recent cycles with a
        margin, never more than the slowest monitor's attempts and backoffs (all it can take)."""
        worst = max(
            (m.timeout * m.attempts + BACKOFF * m.retries for m in self.config.monitors),
            default=0.0,
        )
        measured = getattr(self.engine, "cycle_seconds", None)
        if not measured:
            return worst
        return min(worst, max(measured) * BUDGET_MARGIN)

    def cycle(self, run: Invocation, deadline: float) -> None:
        # The stored states are read while the monitors are probed (the fold is the first to need
        # them), so a warm invocation's one request, a Query of every state, adds no wall time.
        # The probing thread only touches the engine, the reading one only `run`.
        reading = None if run.trusted else in_background(self.load_states, run, "state-read")
        began = self.monotonic()
        results = self.engine.run(self.config.monitors, deadline)
        seconds = self.monotonic() - began
        if reading is not None:
            reading.join()
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
                        **({"starved": True} if result.starved else {}),  # the probe's own loop stalled
                    },
                )
        namespace, home = self.config.settings.metrics_namespace, self.vantage is None or self.vantage.is_home
        emit_probe_metrics(namespace, self.config.monitors, results, seconds, components=home)
        if not run.trusted:
            return  # without the stored state, a fold would overwrite it (a lost recovery, a second ALARM)
        changed, transitions = self.fold(run.states, results)
        run.dirty.update(changed)
        held_back = self.cycle_hold()
        for transition in transitions:
            log_transition(transition)
            run.transitions.append(transition)
            if self.vantage is None and transition.publishable and not held_back(transition):
                enqueue(run, transition.monitor, self.message(transition))
        if self.vantage is not None:  # the outbox then holds this region's votes not cast yet
            until = (
                None if math.isinf(run.publish_by) else run.publish_by
            )  # the round ends with the Lambda's time
            report, touched = self.vantage.after_cycle(transitions, run.results, held_back, run.outbox, until)
            run.dirty.update(touched)
            run.vantage += [report] if report else []
        if self.save(run) and self.vantage is None and run.outbox:
            # The site is rebuilt while SNS takes the alarms: neither waits for the other.
            site = in_background(self.publish_status, run, "status-site")
            self.flush_outbox(run)
            site.join()
        else:
            self.publish_status(run)

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
            new, status_changed = fold_check(
                old, result.ok, result.reason, now, monitor.failure_threshold, monitor.success_threshold
            )
            if new != old:
                states[result.monitor] = changed[result.monitor] = new
            if status_changed:
                reason = result.reason or f"{monitor.success_threshold} consecutive good checks"
                transitions.append(Transition(result.monitor, old.status, new.status, reason, now))
        return changed, transitions

    # -- AWS side effects: each failure is reported in the summary, never lost silently ----------
    def load_states(self, run: Invocation) -> None:
        try:
            run.states, run.outbox = self.store.load_with_outbox()
            run.trusted = True
        except Exception as exc:  # noqa: BLE001 - botocore already retried transient errors
            report(run, "state read failed; nothing is written or published until it succeeds", exc)

    def save(self, run: Invocation) -> bool:
        """Write every dirty monitor's state and outbox; False (kept dirty) when the write failed."""
        if not run.dirty:
            return True
        try:
            self.store.save({name: run.states[name] for name in run.dirty}, run.outbox)
        except Exception as exc:  # noqa: BLE001
            report(run, f"state write failed for {', '.join(sorted(run.dirty))}; retried next cycle", exc)
            return False
        run.dirty.clear()
        return True

    def flush_outbox(self, run: Invocation) -> None:
        """Publish saved messages until the publish deadline (see `outbox_flush`): each monitor's
        in order, oldest first. What SNS refuses, or what there is no time for, stays saved for
        the next cycle."""
        topic = self.config.settings.alarm_topic
        flushed, stopped = OutboxFlush(topic, self.monotonic, run.publish_by, subject_of).run(run.outbox)
        for each in flushed:
            settle(run, each)
        if stopped is not None:
            pending = sum(len(messages) for messages in run.outbox.values())
            report(
                run,
                f"{stopped}; {pending} message(s) kept in the outbox for the next cycle",
                stopped.__cause__,
            )
        self.save(run)

    def cycle_hold(self) -> Callable[[Transition], bool]:
        """`held_back` for one cycle's transitions: maintenance read once, at the first DOWN
        asked about, and never carried into the next cycle (a fresh outage turns dozens DOWN)."""
        question = None if self.under_maintenance is None else one_reading(self.under_maintenance)
        return lambda transition: self.held_back(transition, question)

    def held_back(self, transition: Transition, question: Optional[Question] = None) -> bool:
        """A DOWN under maintenance is not published (no runbook, nobody told); its state is
        saved, and the end of maintenance raises it if it is still down. Recoveries always go."""
        question = question or self.under_maintenance
        if transition.new != DOWN or question is None:
            return False
        return question(transition.monitor, None, transition.at)

    def message(self, transition: Transition) -> dict:
        return probe_alarm_message(
            monitor=transition.monitor,
            new_state=ALARM_STATE[transition.new],
            old_state=ALARM_STATE[transition.old],
            reason=transition.reason,
            namespace=self.config.settings.metrics_namespace,
            changed_at=datetime.fromtimestamp(transition.at, UTC),
        )

    def publish_status(self, run: Invocation) -> None:
        """Every cycle: the site records it, and writes only in the cycle something changed."""
        if self.site is None or (self.vantage is not None and not self.vantage.writes_status_site):
            return
        try:
            self.site.cycle(run.states, run.results, self.clock())
        except Exception as exc:  # noqa: BLE001
            report(run, "status site update failed", exc)


def settle(run: Invocation, flushed: Flushed) -> None:
    """Take what SNS took out of the monitor's outbox (to be saved); report a refusal."""
    messages = run.outbox[flushed.monitor]
    del messages[: flushed.sent]
    if flushed.sent:
        run.dirty.add(flushed.monitor)
    if flushed.refused is not None:
        what = f"publishing {flushed.monitor} {messages[0]['NewStateValue']} failed; kept in the outbox"
        report(run, what, flushed.refused)
    if not messages:
        del run.outbox[flushed.monitor]


def in_background(work: Callable[[Invocation], None], run: Invocation, name: str) -> threading.Thread:
    thread = threading.Thread(target=work, args=(run,), name=name, daemon=True)
    thread.start()
    return thread


def publish_deadline(started: float, deadline: float) -> float:
    """The last moment a publish may end: inside the tick (invocations must not overlap, or two
    would publish one outbox) and the Lambda's deadline, with room left to save and update the site."""
    finish = min(FINISH_SECONDS, RESERVE_SHARE * max(0.0, deadline - started))
    return min(deadline, started + TICK_SECONDS) - finish


def enqueue(run: Invocation, monitor: str, message: dict) -> None:
    """Add to the monitor's outbox, held to its limit; what is dropped is logged, never silent."""
    kept, dropped = trim([*run.outbox.get(monitor, []), message], OUTBOX_LIMIT)
    run.outbox[monitor] = kept
    if dropped:
        logger.warning(
            f"{monitor}: outbox over its limit of {OUTBOX_LIMIT}; dropped {dropped} unsent message(s), "
            "kept the oldest DOWN and the newest",
            extra={"monitor": monitor, "dropped": dropped},
        )


def subject_of(message: dict) -> str:
    state = "DOWN" if message["NewStateValue"] == "ALARM" else "UP"
    return f"{message['Trigger']['Dimensions'][0]['value']} is {state}"


def next_slot(slot: float, every: float, now: float) -> float:
    """The first slot start after `slot` that is not already past: slots a long cycle
    overran are skipped, so cycles keep their spacing instead of running back to back."""
    return slot + max(1, math.ceil((now - slot) / every)) * every


def report(run: Invocation, what: str, exc: Optional[BaseException]) -> None:
    message = f"{what}: {type(exc).__name__}: {exc}" if exc is not None else what
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
