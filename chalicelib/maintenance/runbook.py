"""Maintenance switched by a runbook (`maintenance_page: true`, or the `maintenance` step).

It is the manual switch, owned by the incident: on when the run starts (or at the step), off
when the run ends healed or stopped because everything recovered. An escalated run leaves it on
until its expiry, so users keep seeing the page while people work. A switch a person turned on
is never taken over, nor turned off by a run.

>>> RunbookMaintenance(config, maintenance_service).on(incident, "Website")   # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from chalicelib.config.model import Config, Runbook
from chalicelib.maintenance.cover import components_of
from chalicelib.maintenance.mode import ManualMaintenance

if TYPE_CHECKING:
    from chalicelib.maintenance.service import MaintenanceFunction

DEFAULT_FOR = 3600.0  # ends by itself if nothing turns it off
MESSAGE = "We are restoring the service; it will be back shortly."


def uses_maintenance(runbook: Optional[Runbook]) -> bool:
    return runbook is not None and (
        runbook.maintenance_page or any(step.action == "maintenance" for step in runbook.steps)
    )


class RunbookMaintenance:
    def __init__(
        self, config: Config, function: MaintenanceFunction, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.function = function  # the manual switch's service, as the `maintenance` function uses it
        self.clock = clock

    def on(self, incident: Any, message: Optional[str] = None, duration: float = DEFAULT_FOR) -> str:
        """Switch maintenance on for the incident's components; returns what it did, in words."""
        now = self.clock()
        current = self.function.store.current()
        if current is not None and not current.expired(now):
            return "maintenance page: already on; left as it is"
        runbook = incident.run.runbook if incident.run else None
        components = tuple(components_of(self.config, incident.key, runbook))
        mode = ManualMaintenance(message or MESSAGE, now, now + duration, components, owner=incident.key)
        result = self.function.switch_on(mode, now)
        if "error" in result:
            raise RuntimeError(f"maintenance page: {result['error']}")
        return f"maintenance page on for {', '.join(components) or 'every component'}"

    def off(self, incident: Any) -> Optional[str]:
        """Switch off the maintenance this incident switched on; None when it holds none."""
        now = self.clock()
        current = self.function.store.current()
        if current is None or current.owner != incident.key:
            return None
        result = self.function.end(now, expected_since=current.since)
        return "maintenance page off" if result is not None else None
