"""The `follow_up` function (every minute): continue paused runbooks and remind people.

A runbook that could not finish inside one invocation recorded its position; this picks it up.
An incident still open after `settings.remind_every` since the last message gets a reminder.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from chalicelib.config.durations import format_duration
from chalicelib.handlers.incident_desk import IncidentDesk
from chalicelib.runbooks.engine import LEASE_TTL
from chalicelib.runbooks.incident import PAUSED, Incident
from chalicelib.runbooks.incident_store import IncidentConflict

logger = Logger(service="autoheal", child=True)


class FollowUp(IncidentDesk):
    """>>> FollowUp(config, IncidentStore(table), engine).invoke(deadline)  # doctest: +SKIP"""

    def invoke(self, deadline: float) -> dict[str, Any]:
        resumed, reminded, errors = [], [], []
        for incident in self.incidents.open_incidents():
            try:
                if incident.run is not None and incident.run.state == PAUSED:
                    self.resume(incident, deadline)
                    resumed.append(incident.key)
                elif self.reminder_due(incident) and not incident.run_in_flight(self.clock()):
                    # A run in flight belongs to the invocation running it: writing the incident
                    # here would make that run's next checkpoint fail its version check.
                    self.remind(incident)
                    reminded.append(incident.key)
                else:
                    continue
                self.incidents.save(incident)
            except IncidentConflict as exc:
                errors.append(str(exc))  # another invocation moved it on; it will be seen next tick
            except Exception as exc:  # noqa: BLE001
                logger.exception("follow-up failed", extra={"incident": incident.key})
                errors.append(f"{incident.key}: {type(exc).__name__}: {exc}"[:300])
        return {"resumed": resumed, "reminded": reminded, "errors": errors}

    def resume(self, incident: Incident, deadline: float) -> None:
        run = incident.run
        now = self.clock()
        for target in run.targets:  # renew: a paused run keeps its targets to itself
            self.engine.leases.acquire(target, run.lease_owner, now, LEASE_TTL)
        self.engine.resume(incident, deadline, self.incidents.save)

    def reminder_due(self, incident: Incident) -> bool:
        every = self.config.settings.remind_every
        return every is not None and self.clock() - incident.last_notified_at >= every

    def remind(self, incident: Incident) -> None:
        down_for = format_duration(round(self.clock() - incident.opened_at))
        self.engine.send(incident, "reminder", f"{incident.key} still failing after {down_for}")
