"""The `on_alarm` function: an alarm state change in, an incident opened, acted on or closed.

Order matters for safety: parse, then route, and only then touch AWS. A message that does not
parse, or that no monitor or `alarms:` route claims, is logged with its reason and dropped
before any write. Each SNS message acts once however often it is delivered (Powertools
Idempotency on the MessageId).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from aws_lambda_powertools import Logger

from chalicelib.alarms.model import AlarmEvent
from chalicelib.alarms.parse import parse_sns_event
from chalicelib.alarms.routing import route
from chalicelib.config.model import Config
from chalicelib.handlers.incident_desk import IncidentDesk
from chalicelib.runbooks.engine import resolve
from chalicelib.runbooks.incident import OPEN, RESOLVED, STOPPED, Incident

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
    if alarm.monitor and config.monitor(alarm.monitor) is not None:
        return None, None
    return None, f"no monitor or alarms[].match claims {alarm.name[:80]!r}"


class AlarmHandler(IncidentDesk):
    """>>> AlarmHandler(config, IncidentStore(table), engine).handle(alarm, deadline)  # doctest: +SKIP"""

    def handle(self, alarm: AlarmEvent, runbook: Optional[str], deadline: float) -> dict[str, Any]:
        key = subject_of(alarm)
        incident = self.incidents.get(key)
        if incident is not None and incident.status == OPEN and incident.run_in_flight(self.clock()):
            # The invocation running the runbook owns the incident until it stops; its verify
            # decides. Writing here would lose one of the two updates.
            logger.info(
                f"{key}: {alarm.state} while {incident.run.runbook} runs; the run decides",
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
            self.engine.send(incident, "opened", f"{key} ALARM: {alarm.reason}")
            self.incidents.save(incident)  # opened is on record even if a step fails hard later
        else:
            incident.tell(now, f"ALARM again ({alarm.name}): {alarm.reason}")
        try:
            if runbook is None:
                incident.tell(now, "no runbook: notifications only")
            elif incident.run_active(now):
                incident.tell(now, f"{incident.run.runbook} is already running; not starting another")
            else:
                self.engine.start(incident, runbook, deadline, self.incidents.save)
        finally:
            self.incidents.save(incident)
        return incident

    def on_clear(self, alarm: AlarmEvent, incident: Incident) -> None:
        now = self.clock()
        if alarm.state == "INSUFFICIENT_DATA":
            incident.tell(now, f"{alarm.name}: INSUFFICIENT_DATA ({alarm.reason}); still open")
        else:
            if incident.run_active(now):  # paused: no need to go on
                self.engine.finish(incident, STOPPED)
            resolve(incident, now)
            incident.tell(now, f"OK: {alarm.reason}")
            self.engine.send(
                incident,
                "recovered",
                f"{incident.key} recovered",
                downtime_s=now - incident.opened_at,
                tell=False,
            )
        self.incidents.save(incident)


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
    """Parse, claim, then process each alarm; never raises (a raise would make Lambda retry)."""
    alarms, dropped = parse_sns_event(event, config.settings.metrics_namespace)
    for reason in dropped:
        logger.warning(f"dropped message: {reason}", extra={"reason": reason})
    handled: list[dict[str, Any]] = []
    for alarm in alarms:
        runbook, reason = claim(alarm, config)
        if reason:
            logger.warning(f"dropped alarm: {reason}", extra={"alarm": alarm.name[:255], "reason": reason})
            dropped.append(reason)
            continue
        try:
            handled.append(process(alarm, runbook))
        except Exception as exc:  # noqa: BLE001 - reported, not retried: steps may have acted already
            logger.exception("alarm handling failed", extra={"alarm": alarm.name[:255]})
            handled.append({"incident": subject_of(alarm), "error": f"{type(exc).__name__}: {exc}"[:300]})
    return {"handled": handled, "dropped": dropped}
