"""The `on_alarm` function: an alarm state change in, an incident opened, acted on or closed.

Order matters for safety: parse, then route, and only then touch AWS. A message that does not
parse, or that no monitor or `alarms:` route claims, is logged with its reason and dropped
before any write. Each SNS message acts once however often it is delivered (Powertools
Idempotency on the MessageId), and a state change older than the one on record for its alarm
changes nothing (SNS does not keep order).

A failure before any side effect raises, so Lambda retries the event (and, past its retries,
hands it to the function's on-failure queue); after one, the run is checkpointed and
`follow_up` carries it on.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from aws_lambda_powertools import Logger

from chalicelib.alarms.ledger import change_time
from chalicelib.alarms.model import AlarmEvent
from chalicelib.alarms.parse import parse_sns_event
from chalicelib.alarms.routing import route
from chalicelib.config.model import Config
from chalicelib.deployments.signals import roll_back_gated
from chalicelib.handlers.incident_desk import IncidentDesk
from chalicelib.maintenance.silence import under_maintenance
from chalicelib.runbooks.engine import error_text
from chalicelib.runbooks.incident import OPEN, PAUSED, RESOLVED, Incident
from chalicelib.runbooks.scope import SignalScope

logger = Logger(service="autoheal", child=True)


def subject_of(alarm: AlarmEvent) -> str:
    """The incident an alarm belongs to: its monitor for the probe's own, else the alarm name."""
    return alarm.monitor if alarm.kind == "probe" and alarm.monitor else alarm.name


def claim(alarm: AlarmEvent, config: Config) -> tuple[Optional[str], Optional[str]]:
    """(runbook or None, reason to drop or None). A configured monitor may have no runbook:
    it still gets notifications. Anything nobody claims is dropped."""
    runbook = route(alarm, config)
    if runbook is not None:
        return runbook, None
    if alarm.kind == "probe" and alarm.monitor and config.monitor(alarm.monitor) is not None:
        return None, None
    return None, f"no monitor or alarms[].match claims {alarm.name[:80]!r}"


class AlarmHandler(IncidentDesk):
    """>>> AlarmHandler(config, store, engine, ledger=ledger).handle(alarm, rb, deadline)  # doctest: +SKIP"""

    def handle(self, alarm: AlarmEvent, runbook: Optional[str], deadline: float) -> dict[str, Any]:
        key, now = subject_of(alarm), self.clock()
        if alarm.state == "ALARM" and under_maintenance(self.config, alarm.monitor, runbook, now):
            # Held back, and kept out of the ledger so the end of maintenance raises it again.
            logger.info(f"{key}: ALARM during maintenance; no runbook, nobody told")
            return {"incident": key, "state": alarm.state, "action": "none: under maintenance"}
        if self.ledger is not None and not self.ledger.record(
            alarm.name, alarm.state, change_time(alarm.changed_at), now
        ):
            logger.info(f"{alarm.name}: {alarm.state} older than the change on record; ignored")
            return {"incident": key, "state": alarm.state, "action": "none: older than the state on record"}
        incident = self.incidents.get(key)
        if incident is not None and incident.status == OPEN and incident.run_in_flight(now):
            # The invocation running the runbook owns the incident until it stops; the state just
            # recorded is read when the run ends. Writing here would lose one of the two updates.
            logger.info(
                f"{key}: {alarm.state} while {incident.run.runbook} runs; recorded for when it ends",
                extra={"incident": key, "alarm": alarm.name[:255]},
            )
            return {"incident": key, "state": alarm.state, "action": "none: a runbook is running"}
        if alarm.state == "ALARM":
            incident = self.on_alarm(alarm, key, incident, runbook, deadline)
        elif incident is not None and incident.status == OPEN:
            self.on_clear(alarm, incident)
        else:
            return {"incident": key, "state": alarm.state, "action": "none: no open incident"}
        return summary(incident, alarm)

    def on_alarm(
        self,
        alarm: AlarmEvent,
        key: str,
        incident: Optional[Incident],
        runbook: Optional[str],
        deadline: float,
    ) -> Incident:
        now = self.clock()
        if incident is None or incident.status == RESOLVED:
            incident = Incident(
                key, f"{key} is failing", now, alarm.reason, version=incident.version if incident else 0
            )
            incident.join(alarm.name)
            self.engine.notifier.send(incident, "opened", f"{key} ALARM: {alarm.reason}")
            self.incidents.save(incident)  # opened is on record even if a step fails hard later
        else:
            incident.join(alarm.name)
            incident.tell(now, f"ALARM again ({alarm.name}): {alarm.reason}")
        if runbook is None:
            incident.tell(now, "no runbook: notifications only")
        elif incident.run_active(now):
            incident.tell(now, f"{incident.run.runbook} is already running; not starting another")
        else:
            self.start(incident, runbook, alarm, deadline)
        self.settle(incident)
        self.incidents.save(incident)
        return incident

    def start(self, incident: Incident, runbook: str, alarm: AlarmEvent, deadline: float) -> None:
        scope = SignalScope.from_dimensions(alarm.dimensions)
        try:
            self.engine.start(incident, runbook, deadline, self.incidents.save, scope)
        except Exception as exc:
            run = incident.run
            if run is None or not acted(run):
                # Nothing was done: give back what the run held and spent, and let Lambda retry.
                if run is not None and run.targets:
                    self.engine.admission.give_back(
                        run.runbook, run.targets, run.lease_owner, run.admitted_at
                    )
                incident.run = None
                incident.tell(self.clock(), f"could not start {runbook}: {error_text(exc)}; retrying")
                self.incidents.save(incident)
                raise
            run.state = PAUSED
            incident.tell(self.clock(), f"stopped mid-run ({error_text(exc)}); follow_up carries it on")

    def on_clear(self, alarm: AlarmEvent, incident: Incident) -> None:
        now = self.clock()
        if alarm.state == "INSUFFICIENT_DATA":
            incident.tell(now, f"{alarm.name}: INSUFFICIENT_DATA ({alarm.reason}); still open")
        elif failing := self.still_failing(incident):
            incident.tell(now, f"{alarm.name} is OK; still failing: {', '.join(failing)}")
        else:
            self.recover(incident, alarm.reason)
        self.incidents.save(incident)


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
) -> dict[str, Any]:
    """Parse, claim, then process each alarm. Malformed or unclaimed messages are dropped with
    their reason; a failure while processing raises, so Lambda retries the event. A gate signal
    first rolls back the shift it gates (claimed or not; that path never raises)."""
    alarms, dropped = parse_sns_event(event, config.settings.metrics_namespace)
    for reason in dropped:
        logger.warning(f"dropped message: {reason}", extra={"reason": reason})
    handled: list[dict[str, Any]] = []
    rolled_back: list[dict[str, Any]] = []
    for alarm in alarms:
        rolled_back += roll_back_gated(alarm, config)  # traffic first: a runbook may take minutes
        runbook, reason = claim(alarm, config)
        if reason:
            logger.warning(f"dropped alarm: {reason}", extra={"alarm": alarm.name[:255], "reason": reason})
            dropped.append(reason)
            continue
        try:
            handled.append(process(alarm, runbook))
        except Exception:
            logger.exception(
                "alarm handling failed; the event will be retried", extra={"alarm": alarm.name[:255]}
            )
            raise
    return {"handled": handled, "dropped": dropped, "rolled_back": rolled_back}
