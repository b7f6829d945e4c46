"""Runbooks on a schedule (`runbooks.<name>.schedule`), started by `follow_up` when due.

A scheduled run is an incident of its own (`schedule:<runbook>`), so it goes through the same
engine as any other: leases, budget, one wave at a time with a verify after each, checkpoints,
and `follow_up` carrying it on when one invocation cannot finish it. Saving that incident with
its version check is the claim: of two `follow_up`s that see the same fire time, one starts it.
The claim carries a run not yet begun, with a heartbeat: while it is fresh another `follow_up`
leaves it to its claimer (follow_ups overlap when one runs long); once stale, its claimer died,
and the claim is taken over by the same kind of write. Losing either race is not a failure: the
loser stands down quietly, before it has done anything.
It is skipped, with a note in its story, while an incident is open for the same runbook or
targets (restarting a tier autoheal is already healing would make the outage bigger), and it
tells people only when it fails.
"""

from __future__ import annotations

from typing import Iterable, Optional

from aws_lambda_powertools import Logger

from chalicelib.incidents.desk import IncidentDesk
from chalicelib.runbooks.engine import resolve
from chalicelib.runbooks.incident import OPEN, RUNNING, Incident, RunPosition
from chalicelib.runbooks.incident_store import IncidentConflict
from chalicelib.runbooks.schedule import CATCH_UP_SECONDS, due

logger = Logger(service="autoheal", child=True)

PREFIX = "schedule:"


def schedule_key(runbook: str) -> str:
    return f"{PREFIX}{runbook}"


def is_scheduled(incident: Incident) -> bool:
    return incident.key.startswith(PREFIX)


def claimed_run(runbook: str, now: float) -> RunPosition:
    """What a claim holds until the engine starts the run: no target yet, a live heartbeat."""
    return RunPosition(runbook, [], heartbeat=now, scheduled=True)


def not_begun(run: Optional[RunPosition]) -> bool:
    """Claimed, and the run not started yet (None: a claim written without a run)."""
    return run is None or (run.state == RUNNING and not run.targets and not run.commands)


class ScheduledRuns:
    """>>> ScheduledRuns(desk).start_due(open_incidents, deadline)  # doctest: +SKIP"""

    def __init__(self, desk: IncidentDesk) -> None:
        self.desk = desk

    def start_due(self, open_incidents: Iterable[Incident], deadline: float) -> dict[str, list[str]]:
        done: dict[str, list[str]] = {"started": [], "skipped": []}
        others = [i for i in open_incidents if i.status == OPEN and not is_scheduled(i)]
        for name, runbook in self.desk.config.runbooks.items():
            if runbook.schedule is None:
                continue
            try:
                outcome = self.start_if_due(name, others, deadline)
            except IncidentConflict:
                logger.info(f"scheduled {name}: another follow_up claimed it first; standing down")
                outcome = None
            if outcome:
                done[outcome].append(name)
        return done

    def start_if_due(self, name: str, others: list[Incident], deadline: float) -> Optional[str]:
        desk, now = self.desk, self.desk.clock()
        previous = desk.incidents.get(schedule_key(name))
        if previous is not None and previous.status == OPEN:
            if not_begun(previous.run) and not previous.run_in_flight(now):
                return self.start_claimed(previous, name, deadline, now)  # its claimer died
            return None  # being started by its claimer, or running: follow_up carries it on
        fire = due(desk.config.runbooks[name].schedule, previous.opened_at if previous else None, now)
        if fire is None:
            return None
        incident = Incident(
            schedule_key(name),
            f"scheduled {name}",
            fire,
            "schedule",
            version=previous.version if previous else 0,
        )
        blocker = self.blocking(name, others)
        if blocker is not None:
            incident.tell(now, f"skipped: incident {blocker.key} is open for the same targets")
            resolve(incident, now)
            desk.incidents.save(incident)
            logger.info(f"scheduled {name} skipped: {blocker.key} is open", extra={"runbook": name})
            return "skipped"
        incident.tell(now, f"scheduled {name} starts")
        incident.run = claimed_run(name, now)
        desk.incidents.save(incident)  # the claim: a second follow_up's save of this fire time fails
        self.run(incident, name, deadline)
        return "started"

    def start_claimed(self, incident: Incident, name: str, deadline: float, now: float) -> str:
        """Take over a claim that outlived its invocation and start its run, unless its time has
        passed: then say it was missed. The take-over is a claim too: of two follow_ups taking it
        over, the second's save fails before it does anything."""
        if now - incident.opened_at > CATCH_UP_SECONDS:
            incident.tell(now, "missed: autoheal stopped before the run began")
            resolve(incident, now)
            self.desk.incidents.save(incident)
            return "skipped"
        incident.tell(now, "the invocation that claimed it stopped before the run began; starting it")
        incident.run = claimed_run(name, now)
        self.desk.incidents.save(incident)
        self.run(incident, name, deadline)
        return "started"

    def run(self, incident: Incident, name: str, deadline: float) -> None:
        desk = self.desk
        try:
            desk.engine.start(incident, name, deadline, desk.incidents.save, scheduled=True)
        except Exception as exc:  # noqa: BLE001 - reported in its story; follow_up carries on
            logger.exception("scheduled run failed to start", extra={"runbook": name})
            desk.engine.escalate(incident, f"scheduled {name} could not start: {type(exc).__name__}")
        run = incident.run
        if run is None or not run.targets:
            resolve(incident, desk.clock())  # nothing to act on: told (escalated) already, if at all
        desk.incidents.save(incident)

    def blocking(self, name: str, others: list[Incident]) -> Optional[Incident]:
        """An open incident of the same runbook, or one whose run holds a target of its tier."""
        tier: Optional[set[str]] = None
        for incident in others:
            run = incident.run
            if run is None:
                continue
            if run.runbook == name:
                return incident
            if run.targets:
                if tier is None:
                    tier = set(self.desk.engine.actions.resolve(self.desk.config.runbooks[name].targets))
                if tier & set(run.targets):
                    return incident
        return None
