"""What `on_alarm` does: an alarm state change in, an incident opened, acted on or closed.

Order matters for safety: parse, then route, and only then touch AWS. A message that does not
parse, or that no monitor or `alarms:` route claims, is logged with its reason and dropped
before any write (a deployment's gate alarm aside: it may roll its shift back, and its change
is recorded so that a redelivery does not). Each SNS message acts once however often it is
delivered (Powertools Idempotency on the MessageId), and a state change older than the one on
record for its alarm changes nothing (SNS does not keep order).

Which incident a signal joins is `runbooks.grouping`'s key (runbook and targets, or component),
or its dependency's incident while a monitor it `depends_on` is DOWN. One incident runs its
runbook once: later signals only add to its story (see README, "One outage, one incident").

A failure before any side effect raises, so Lambda retries the event (and, past its retries,
hands it to the function's on-failure queue); after one, the run is checkpointed and
`follow_up` carries it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from aws_lambda_powertools import Logger

from chalicelib.alarms.ledger import AlarmLedger, change_time
from chalicelib.alarms.model import AlarmEvent
from chalicelib.alarms.parse import parse_sns_event
from chalicelib.alarms.routing import route
from chalicelib.aws.errors import describe_error, is_permanent
from chalicelib.config.model import Config
from chalicelib.deployments.signals import Rollback, roll_back_gated
from chalicelib.incidents.desk import IncidentDesk
from chalicelib.runbooks.engine import error_text
from chalicelib.runbooks.grouping import GroupKey, group_of, monitor_group, probe_alarm_name, subject_of
from chalicelib.runbooks.incident import HEALED, OPEN, PAUSED, RESOLVED, Incident, RunPosition
from chalicelib.runbooks.incident_store import IncidentConflict
from chalicelib.runbooks.scope import SignalScope

logger = Logger(service="autoheal", child=True)


def claim(alarm: AlarmEvent, config: Config) -> tuple[Optional[str], Optional[str]]:
    """(runbook or None, reason to drop or None). A configured monitor may have no runbook:
    it still gets notifications. Anything nobody claims is dropped."""
    runbook = route(alarm, config)
    if runbook is not None:
        return runbook, None
    if alarm.kind == "probe" and alarm.monitor and config.monitor(alarm.monitor) is not None:
        return None, None
    return None, f"no monitor or alarms[].match claims {alarm.name[:80]!r}"


CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class AlarmRequest:
    """One alarm to handle, as the idempotency layer keys it (see `wiring.alarm_intake`)."""

    alarm: AlarmEvent
    runbook: Optional[str]
    deadline: float  # monotonic; not part of the key


@dataclass
class AlarmIntake:
    """`on_alarm`'s walk: parse the event, claim each alarm, roll back what a gate signal gates,
    then hand each claimed alarm to `handle` (AlarmHandler.handle, once per state change)."""

    config: Config
    handle: Callable[[AlarmRequest], dict[str, Any]]
    ledger: AlarmLedger
    rollback: Optional[Rollback] = None

    def take(self, event: Any, deadline: float) -> dict[str, Any]:
        def process(alarm: AlarmEvent, runbook: Optional[str]) -> dict[str, Any]:
            return self.handle(AlarmRequest(alarm, runbook, deadline))

        return handle_sns_event(event, self.config, process, self.ledger, self.rollback)


class LostClaim(IncidentConflict):
    """Another signal of the same outage wrote the incident first (nothing was done yet)."""


class AlarmHandler(IncidentDesk):
    """>>> AlarmHandler(config, store, engine, ledger=ledger).handle(alarm, rb, deadline)  # doctest: +SKIP"""

    def handle(
        self, alarm: AlarmEvent, runbook: Optional[str], deadline: float, again: bool = True
    ) -> dict[str, Any]:
        """Signals of one outage arrive together (web, api and realtime in one probe cycle): the
        one that loses the race to open or claim the incident reads it again and joins it now,
        instead of waiting a minute or more for Lambda's retry while nothing is restarted."""
        for _ in range(CLAIM_ATTEMPTS - 1):
            try:
                return self.handle_once(alarm, runbook, deadline, again)
            except LostClaim:
                logger.info(f"{alarm.name}: another signal wrote the incident first; reading it again")
        return self.handle_once(alarm, runbook, deadline, again)  # lost again: Lambda retries the event

    def handle_once(
        self, alarm: AlarmEvent, runbook: Optional[str], deadline: float, again: bool
    ) -> dict[str, Any]:
        now, self.deadline = self.clock(), deadline
        own = group_of(alarm, runbook, self.config)  # the signal's own group, computed once
        if alarm.state == "ALARM" and self.maintenance and self.maintenance(alarm.monitor, runbook, now):
            # Held back, and kept out of the ledger so the end of maintenance raises it again.
            logger.info(f"{own.key}: ALARM during maintenance; no runbook, nobody told")
            return {"incident": own.key, "state": alarm.state, "action": "none: under maintenance"}
        changed_at = change_time(alarm.changed_at)
        if self.ledger is not None and not self.ledger.record(alarm.name, alarm.state, changed_at, now):
            logger.info(f"{alarm.name}: {alarm.state} older than the change on record; ignored")
            return {
                "incident": own.key,
                "state": alarm.state,
                "action": "none: older than the state on record",
            }
        dependency = self.down_dependency(alarm) if alarm.state == "ALARM" else None
        own_incident = self.incidents.get(own.key) if dependency is not None else None
        if dependency is not None and is_open_with(own_incident, alarm.name):
            dependency = None  # already failing on its own: it stays in its own incident
        group, incident = self.find(alarm, own, dependency)
        key = group.key
        if incident is not None and incident.status == OPEN and incident.run_in_flight(now):
            # The invocation running the runbook owns the incident until it stops: the signal waits
            # beside it and is folded in at that run's next checkpoint (or its end).
            if self.inbox is not None:
                at = changed_at or now
                self.inbox.put(key, alarm.name, alarm.state, alarm.reason, at, bool(dependency))
                if again and self.run_ended_unread(key, alarm.name, at):
                    return self.handle(alarm, runbook, deadline, again=False)
            logger.info(
                f"{key}: {alarm.state} while {incident.run.runbook} runs; joins when it checkpoints",
                extra={"incident": key, "alarm": alarm.name[:255]},
            )
            return {"incident": key, "state": alarm.state, "action": "joined: a runbook is running"}
        if alarm.state == "ALARM":
            incident = self.on_alarm(
                alarm, group, incident, None if dependency else runbook, dependency, deadline
            )
        elif incident is not None and incident.status == OPEN:
            self.on_clear(alarm, incident)
        else:
            return {"incident": key, "state": alarm.state, "action": "none: no open incident"}
        return summary(incident, alarm)

    def run_ended_unread(self, key: str, signal: str, at: float) -> bool:
        """The run ended between our read and our write, leaving our signal unread: take it back
        (True) and handle it as if no run were going on."""
        incident = self.incidents.get(key)
        if incident is None or incident.run_in_flight(self.clock()):
            return False
        ours = [s for s in self.inbox.read(key) if s.sk == f"{key}#{signal}#{at:.3f}"]
        self.inbox.remove(ours)
        return bool(ours)

    # -- which incident ------------------------------------------------------------------------
    def find(
        self, alarm: AlarmEvent, own: GroupKey, dependency: Optional[str]
    ) -> tuple[GroupKey, Optional[Incident]]:
        """The group the signal joins, and its incident on record (one GetItem, a few at most)."""
        if dependency is not None:
            group = monitor_group(self.config.monitor(dependency))
            return group, self.incidents.get(group.key)
        incident = self.incidents.get(own.key)
        if alarm.state == "ALARM":
            if (incident is None or incident.status != OPEN) and own.tier is not None:
                tier = self.incidents.get(own.tier.key)
                if tier is not None and tier.status == OPEN and covers(tier, own.scope, self.clock()):
                    return own.tier, tier
            return own, incident
        # A clear belongs to the open incident its ALARM joined: its own, the tier's, a dependency's.
        if is_open_with(incident, alarm.name):
            return own, incident
        for other in self.elsewhere(alarm, own):
            found = self.incidents.get(other.key)
            if is_open_with(found, alarm.name):
                return other, found
        return own, incident

    def elsewhere(self, alarm: AlarmEvent, own: GroupKey) -> list[GroupKey]:
        groups = [own.tier] if own.tier is not None else []
        monitor = self.config.monitor(alarm.monitor) if alarm.kind == "probe" and alarm.monitor else None
        for name in monitor.depends_on if monitor else ():
            groups.append(monitor_group(self.config.monitor(name)))
        return groups

    def down_dependency(self, alarm: AlarmEvent) -> Optional[str]:
        """The first monitor this probe signal depends on that is DOWN (by the probe's state or the
        last change on record for its alarm, whichever says so first)."""
        monitor = self.config.monitor(alarm.monitor) if alarm.kind == "probe" and alarm.monitor else None
        if monitor is None or not monitor.depends_on:
            return None
        names = [probe_alarm_name(name) for name in monitor.depends_on]
        recorded = self.ledger.states(names) if self.ledger is not None else {}
        for name in monitor.depends_on:
            down = recorded.get(probe_alarm_name(name)) == "ALARM" or self.monitor_down(name)
            if down and not self.healed(name):
                return name
        return None

    def monitor_down(self, name: str) -> bool:
        """What the probe recorded last (it saves a monitor's state before publishing its change)."""
        return self.monitor_status is not None and self.monitor_status(name) == "DOWN"

    def healed(self, name: str) -> bool:
        """A run verified the monitor healthy and closed its incident: its OK is on the way, and a
        dependent still failing now fails on its own."""
        incident = self.incidents.get(monitor_group(self.config.monitor(name)).key)
        return (
            incident is not None
            and incident.status == RESOLVED
            and incident.run is not None
            and incident.run.state == HEALED
            and probe_alarm_name(name) in incident.signals
        )

    # -- what it does --------------------------------------------------------------------------
    def on_alarm(
        self,
        alarm: AlarmEvent,
        group: GroupKey,
        incident: Optional[Incident],
        runbook: Optional[str],
        dependency: Optional[str],
        deadline: float,
    ) -> Incident:
        now, subject = self.clock(), subject_of(alarm)
        self.told_before = self.engine.notifier.delivered
        fresh = incident is None or incident.status == RESOLVED
        if fresh:
            name = dependency or subject
            incident = Incident(
                group.key, f"{name} is failing", now, alarm.reason,
                version=incident.version if incident else 0, name=name,
            )  # fmt: skip
        incident.join(alarm.name)
        if dependency is not None:
            if alarm.name not in incident.dependents:
                incident.dependents = [*incident.dependents, alarm.name]
            incident.tell(
                now, f"{subject}: ALARM ({alarm.reason}); it depends on {dependency}, which is DOWN"
            )
        elif not fresh:
            incident.tell(now, f"{subject} joins: ALARM ({alarm.reason})")
        claimed = False
        if fresh:
            # One conditional write claims the incident, its run and (when held) its opening, so a
            # signal racing this one either loses the write (Lambda retries it) or, seeing the
            # run, waits beside it: nothing it writes can overwrite the opening.
            if runbook is not None:
                incident.run, claimed = RunPosition(runbook, [], heartbeat=now), True
            opening = f"{dependency} is failing" if dependency else f"{subject} ALARM: {alarm.reason}"
            held = self.engine.notifier.holds_opening
            if held:
                self.engine.notifier.open(incident, opening)
            self.claim(incident)
            if not held:
                self.engine.notifier.open(incident, opening)
                self.save(incident)  # opened is on record even if a step fails hard later
        if runbook is None:
            if fresh and dependency is None:
                incident.tell(now, "no runbook: notifications only")
        elif claimed:
            self.start(incident, runbook, alarm, deadline)
        elif incident.run is None:
            # Claim the run first (a conditional write): signals arriving from now on wait beside
            # the incident instead of writing it under the run's feet; a lost race retries cleanly.
            incident.run = RunPosition(runbook, [], heartbeat=now)
            self.claim(incident)
            self.start(incident, runbook, alarm, deadline)
            claimed = True
        else:
            incident.tell(
                now, f"{incident.run.runbook} has run for this incident ({incident.run.state}); not again"
            )
        self.settle(incident)
        if claimed:
            self.save(incident)
        else:
            self.claim(incident)  # only joined: nothing done yet unless a notice went out
        return incident

    def claim(self, incident: Incident) -> None:
        """A write that opens, claims or joins the incident. Lost with nothing done yet (no run
        started, no notice sent), it is a LostClaim: the signal is handled again at once."""
        try:
            self.save(incident)
        except IncidentConflict as exc:
            if self.engine.notifier.delivered != self.told_before:
                raise  # someone was told: Lambda's retry re-reads, as for any write lost
            raise LostClaim(str(exc)) from exc

    def start(self, incident: Incident, runbook: str, alarm: AlarmEvent, deadline: float) -> None:
        scope = SignalScope.from_dimensions(alarm.dimensions)
        try:
            self.start_run(incident, runbook, scope, deadline)
        except Exception as exc:
            run = incident.run
            if run is None or not acted(run):
                # Nothing was done: give back what the run held and spent, and let Lambda retry.
                if run is not None and run.targets:
                    self.engine.admission.give_back(
                        run.runbook, run.targets, run.lease_owner, run.admitted_at
                    )
                if is_permanent(exc):
                    self.give_up(incident, runbook, scope, alarm, exc)
                    return
                incident.run = None
                incident.tell(self.clock(), f"could not start {runbook}: {error_text(exc)}; retrying")
                self.save(incident)
                raise
            run.state = PAUSED
            incident.tell(self.clock(), f"stopped mid-run ({error_text(exc)}); follow_up carries it on")

    def give_up(
        self, incident: Incident, runbook: str, scope: SignalScope, alarm: AlarmEvent, exc: Exception
    ) -> None:
        """A permanent AWS error (what the alarm names is gone, or not ours to see): every retry
        would fail alike and end in the dead-letter queue with nobody told. Tell people instead."""
        why = (
            f"{runbook} did not act on {scope.describe()}, which {alarm.name[:80]} names: "
            f"{describe_error(exc)}; nothing was done, and retrying would not change that"
        )
        logger.warning(f"{incident.key}: {why}", extra={"incident": incident.key, "alarm": alarm.name[:255]})
        self.engine.escalate(incident, why)

    def on_clear(self, alarm: AlarmEvent, incident: Incident) -> None:
        now = self.clock()
        if alarm.state == "INSUFFICIENT_DATA":
            incident.tell(now, f"{alarm.name}: INSUFFICIENT_DATA ({alarm.reason}); still open")
        elif not self.settle(incident):
            failing = self.still_failing(incident)
            incident.tell(now, f"{subject_of(alarm)} is OK; still failing: {', '.join(failing)}")
        self.save(incident)


def is_open_with(incident: Optional[Incident], signal: str) -> bool:
    return incident is not None and incident.status == OPEN and signal in incident.signals


def covers(incident: Incident, scope: str, now: float) -> bool:
    """The incident's run is acting (or about to act) on what a narrower signal names."""
    return incident.run_active(now) and scope in incident.run.targets


def acted(run: Any) -> bool:
    """Whether a run may have changed anything yet (a command, a reboot, a step passed)."""
    return bool(run.commands or run.step_data or run.step > 0 or run.wave > 0)


def summary(incident: Incident, alarm: AlarmEvent) -> dict[str, Any]:
    run = incident.run
    return {
        "incident": incident.key,
        "state": alarm.state,
        "status": incident.status,
        "runbook": run.runbook if run else None,
        "run": run.state if run else None,
        "commands": list(run.commands) if run else [],
        "story": incident.story[-10:],
    }


def handle_sns_event(
    event: Any,
    config: Config,
    process: Callable[[AlarmEvent, Optional[str]], dict[str, Any]],
    ledger: Optional[AlarmLedger] = None,
    rollback: Optional[Rollback] = None,
) -> dict[str, Any]:
    """Parse, claim, then `process(alarm, runbook)` each alarm. Malformed or unclaimed messages
    are dropped with their reason; a failure while processing raises, so Lambda retries the
    event. A new state change of a gate signal first rolls back the shift it gates through
    `rollback`, if that shift started by then (claimed or not; that path never raises, and
    records an unclaimed gate alarm's change in `ledger`)."""
    alarms, dropped = parse_sns_event(event, config.settings.metrics_namespace)
    for reason in dropped:
        logger.warning(f"dropped message: {reason}", extra={"reason": reason})
    ledger = ledger or AlarmLedger(config.settings.state_table)
    handled: list[dict[str, Any]] = []
    rolled_back: list[dict[str, Any]] = []
    for alarm in alarms:
        runbook, reason = claim(alarm, config)
        # Traffic first (a runbook may take minutes), judged before `process` records the change.
        rolled_back += roll_back_gated(alarm, config, ledger, record=reason is not None, rollback=rollback)
        if reason:
            logger.warning(f"dropped alarm: {reason}", extra={"alarm": alarm.name[:255], "reason": reason})
            dropped.append(reason)
            continue
        if problem := SignalScope.from_dimensions(alarm.dimensions).problem:
            # Handled all the same (its incident tells people), but it acts on no target.
            logger.warning(
                f"{alarm.name[:80]}: {problem}", extra={"alarm": alarm.name[:255], "reason": problem}
            )
        try:
            handled.append(process(alarm, runbook))
        except Exception:
            logger.exception(
                "alarm handling failed; the event will be retried", extra={"alarm": alarm.name[:255]}
            )
            raise
    return {"handled": handled, "dropped": dropped, "rolled_back": rolled_back}
