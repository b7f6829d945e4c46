"""What the two incident handlers (`on_alarm`, `follow_up`) work with, and what they share."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

from chalicelib.alarms.ledger import AlarmLedger
from chalicelib.config.model import Config
from chalicelib.runbooks.engine import RunbookEngine, resolve
from chalicelib.runbooks.incident import OPEN, STOPPED, Incident
from chalicelib.runbooks.incident_store import IncidentStore


@dataclass
class IncidentDesk:
    config: Config
    incidents: IncidentStore
    engine: RunbookEngine
    clock: Callable[[], float] = time.time
    ledger: Optional[AlarmLedger] = None

    def still_failing(self, incident: Incident) -> list[str]:
        """The incident's signals whose last recorded state is not OK (all of them, unknown, when
        there is no ledger to ask)."""
        if self.ledger is None:
            return list(incident.signals)
        if not incident.signals:
            return []
        states = self.ledger.states(incident.signals)
        return [name for name in incident.signals if states.get(name, "ALARM") != "OK"]

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
        if self.still_failing(incident):
            return False
        self.recover(incident, "every signal is OK again")
        return True

    def recover(self, incident: Incident, why: str) -> None:
        now = self.clock()
        if incident.run_active(now):  # paused: no need to go on
            self.engine.finish(incident, STOPPED)
        resolve(incident, now)
        incident.tell(now, f"OK: {why}")
        self.engine.notifier.send(
            incident,
            "recovered",
            f"{incident.key} recovered",
            downtime_s=now - incident.opened_at,
            tell=False,
        )
