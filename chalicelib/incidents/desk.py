"""What the two incident services (`alarm`, `follow_up`) work with, and what they share."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

from chalicelib.alarms.ledger import AlarmLedger
from chalicelib.alarms.model import PROBE_ALARM_PREFIX
from chalicelib.config.model import Config
from chalicelib.runbooks.engine import RunbookEngine, resolve
from chalicelib.runbooks.grouping import GroupKey, monitor_group
from chalicelib.runbooks.inbox import InboxFold, SignalInbox
from chalicelib.runbooks.incident import OPEN, STOPPED, Incident
from chalicelib.runbooks.incident_store import IncidentStore
from chalicelib.runbooks.scope import SignalScope


@dataclass
class IncidentDesk:
    config: Config
    incidents: IncidentStore
    engine: RunbookEngine
    clock: Callable[[], float] = time.time
    ledger: Optional[AlarmLedger] = None
    inbox: Optional[SignalInbox] = None
    deadline: Optional[float] = None  # of the invocation at hand, when it may run a runbook
    monitor_status: Optional[Callable[[str], Optional[str]]] = None  # the probe's UP/DOWN by monitor
    # (monitor, runbook, at) -> whether maintenance holds an ALARM about them back
    maintenance: Optional[Callable[[Optional[str], Optional[str], float], bool]] = None
    # folds the inbox's signals into an incident, each once; the engine's notifier shares it
    fold: Optional[InboxFold] = None

    def still_failing(self, incident: Incident) -> list[str]:
        """The incident's signals whose last recorded state is not OK (all of them, unknown, when
        there is no ledger to ask)."""
        if self.ledger is None:
            return list(incident.signals)
        if not incident.signals:
            return []
        states = self.ledger.states(incident.signals)
        return [name for name in incident.signals if states.get(name, "ALARM") != "OK"]

    def __post_init__(self) -> None:
        # Handed an inbox alone, the desk folds at its checkpoints only; wiring hands the same
        # fold to the engine's notifier too, so a notice names what waits beside the incident.
        if self.fold is None and self.inbox is not None:
            self.fold = InboxFold(self.inbox)

    def save(self, incident: Incident) -> None:
        """Checkpoint: fold in waiting signals, send held notices whose hold is over, write."""
        if self.fold is not None:
            self.fold.absorb(incident)
        self.engine.notifier.flush(incident)
        self.incidents.save(incident)
        if self.fold is not None:
            self.fold.saved(incident)

    def settle(self, incident: Incident) -> bool:
        """Resolve an open incident whose run has ended (or never ran) once every signal in it is
        OK again: an OK that arrived while the run was acting is honoured here."""
        now = self.clock()
        if (
            incident.status != OPEN
            or incident.run_in_flight(now)
            or not incident.signals
            or self.ledger is None
        ):
            return False
        failing = self.still_failing(incident)
        if failing and set(failing) <= set(incident.dependents) and self.primary_ok(incident):
            self.recover(incident, f"its own signals are OK; {', '.join(failing)} still failing on their own")
            self.split_off(incident, failing)
            return True
        if failing:
            return False
        self.recover(incident, "every signal is OK again")
        return True

    def primary_ok(self, incident: Incident) -> bool:
        """Some signal of its own (not a dependent's) joined, and all of them are OK."""
        return any(signal not in incident.dependents for signal in incident.signals)

    def split_off(self, incident: Incident, failing: list[str]) -> None:
        """Dependents still failing once their dependency recovered: each its own incident, told
        at once (no group_wait: the outage is known), with its own runbook if it has one."""
        now = self.clock()
        for signal in failing:
            monitor = self.config.monitor(signal.removeprefix(PROBE_ALARM_PREFIX))
            group = monitor_group(monitor) if monitor else GroupKey.for_component(signal)
            if group.key == incident.key:
                continue
            own = self.incidents.get(group.key)
            if own is not None and own.status == OPEN:  # it has an open incident already: told
                own.join(signal)
                own.tell(now, f"{incident.label} recovered; {own.label} still failing")
                self.save(own)
                continue
            if own is None or own.status != OPEN:
                name = monitor.name if monitor else signal
                own = Incident(
                    group.key, f"{name} is failing", now, f"still failing after {incident.label} recovered",
                    version=own.version if own else 0, name=name,
                )  # fmt: skip
            own.join(signal)
            title = f"{own.label} is still failing after {incident.label} recovered"
            self.engine.notifier.send(own, "opened", title)
            if monitor is not None and monitor.runbook and own.run is None and self.deadline is not None:
                self.start_run(own, monitor.runbook, SignalScope(), self.deadline)
            self.save(own)

    def start_run(self, incident: Incident, runbook: str, scope: SignalScope, deadline: float) -> None:
        self.engine.start(incident, runbook, deadline, self.save, scope)

    def recover(self, incident: Incident, why: str) -> None:
        now = self.clock()
        if incident.run_active(now):  # paused: no need to go on
            self.engine.finish(incident, STOPPED)
        resolve(incident, now)
        incident.tell(now, f"OK: {why}")
        self.engine.notifier.send(
            incident,
            "recovered",
            f"{incident.label} recovered",
            downtime_s=now - incident.opened_at,
            tell=False,
        )
