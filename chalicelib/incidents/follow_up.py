"""The `follow_up` function (every minute): carry on what one invocation could not finish.

- continues paused runs, and takes over runs whose invocation died (RUNNING, no heartbeat for
  STALE_RUN_SECONDS), but only while holding every one of their targets' leases;
- retries notifications a channel did not take;
- ends a forgotten maintenance and puts scheduled windows into and out of effect;
- resolves incidents whose signals are all OK again once their run has ended;
- reminds people while an incident stays open, and escalates once and closes an incident open
  past MAX_OPEN_SECONDS, so nothing stays open (and reminding) forever;
- starts the runbooks whose `schedule` is due (`scheduled_runs`);
- sends the daily digest when it is due (`digest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from aws_lambda_powertools import Logger

from chalicelib.config.durations import format_duration
from chalicelib.incidents.desk import IncidentDesk
from chalicelib.incidents.scheduled_runs import ScheduledRuns, is_scheduled, not_begun
from chalicelib.runbooks.engine import resolve
from chalicelib.runbooks.incident import OPEN, PAUSED, RUNNING, Incident
from chalicelib.runbooks.incident_store import IncidentConflict

logger = Logger(service="autoheal", child=True)

MAX_OPEN_SECONDS = 7 * 86400


@dataclass
class FollowUp(IncidentDesk):
    """>>> FollowUp(config, IncidentStore(table), engine, ledger=ledger).invoke(deadline)  # doctest: +SKIP"""

    digest: Optional[Callable[[], dict]] = None  # the daily digest's minute, when one is configured
    maintenance_minute: Optional[Callable[[float], list[str]]] = None  # ends and windows (never raises)

    def invoke(self, deadline: float) -> dict[str, Any]:
        done: dict[str, list[str]] = {
            "resumed": [],
            "reminded": [],
            "resent": [],
            "resolved": [],
            "errors": [],
        }
        done["maintenance"] = self.maintenance_minute(self.clock()) if self.maintenance_minute else []
        incidents = self.incidents.needing_follow_up()
        for incident in incidents:
            try:
                did = self.follow(incident, deadline)
                if did:
                    self.save(incident)
                    done[did].append(incident.key)
            except IncidentConflict as exc:
                done["errors"].append(str(exc))  # another invocation moved it on; seen next tick
            except Exception as exc:  # noqa: BLE001 - one incident must not stop the others
                logger.exception("follow-up failed", extra={"incident": incident.key})
                done["errors"].append(f"{incident.key}: {type(exc).__name__}: {exc}"[:300])
        done.update(ScheduledRuns(self).start_due(incidents, deadline))
        if self.digest is not None:
            try:
                done.update(self.digest())
            except Exception as exc:  # noqa: BLE001 - the next minute tries again
                logger.exception("daily digest failed")
                done["errors"].append(f"digest: {type(exc).__name__}: {exc}"[:300])
        return done

    def follow(self, incident: Incident, deadline: float) -> str:
        """What was done to the incident ("" when nothing, and nothing is written)."""
        now = self.clock()
        if incident.run_in_flight(now):
            return ""  # its invocation owns it: a write here would fail that run's next checkpoint
        self.deadline = deadline
        held = self.engine.notifier.due(incident)
        if self.inbox is not None and self.inbox.read(incident.key):
            held = True  # signals wait beside it: save() folds them in
        unsent = len(incident.unsent)
        if unsent:
            self.engine.notifier.retry_unsent(incident)
        resent = len(incident.unsent) < unsent or held
        if incident.status != OPEN:
            return "resent" if resent else ""
        run = incident.run
        if is_scheduled(incident) and not_begun(run):
            return ""  # a scheduled run claimed but not begun: ScheduledRuns starts it, no reminder
        if run is not None and run.state in (PAUSED, RUNNING):
            self.take_over(incident, deadline)
            self.settle(incident)
            return "resumed"
        if self.settle(incident):
            return "resolved"
        if now - incident.opened_at > MAX_OPEN_SECONDS:
            self.close_stale(incident)
            return "resolved"
        if self.reminder_due(incident):
            down_for = format_duration(round(now - incident.opened_at))
            self.engine.notifier.send(
                incident, "reminder", f"{incident.label} still failing after {down_for}"
            )
            return "reminded"
        return "resent" if resent else ""

    def take_over(self, incident: Incident, deadline: float) -> None:
        run, now = incident.run, self.clock()
        if run.state == RUNNING:
            incident.tell(now, "the invocation running this stopped; carrying on from its last checkpoint")
        busy = self.engine.admission.lease_all(sorted(run.targets), run.lease_owner, now)
        if busy:
            self.engine.escalate(incident, f"{busy} is now held by another run; this run stops")
            return
        self.engine.resume(incident, deadline, self.save)

    def close_stale(self, incident: Incident) -> None:
        days = round(MAX_OPEN_SECONDS / 86400)
        self.engine.escalate(incident, f"open for more than {days} days; closed as stale")
        resolve(incident, self.clock())

    def reminder_due(self, incident: Incident) -> bool:
        """`remind_every` after the last notice people got; while the opening is still held by
        `group_wait` nobody got one yet (last_notified_at is 0), so it counts from the opening."""
        every = self.config.settings.remind_every
        since = max(incident.last_notified_at, incident.opened_at)
        return every is not None and self.clock() - since >= every
