"""The I/O around `cover.silences` for `on_alarm`: one read of the manual switch per alarm."""

from __future__ import annotations

from typing import Optional

from chalicelib.config.model import Config
from chalicelib.maintenance.cover import silences
from chalicelib.maintenance.store import MaintenanceStore


def under_maintenance(config: Config, monitor: Optional[str], runbook: Optional[str], at: float) -> bool:
    """>>> under_maintenance(config, "web", "restart-web", time.time())  # doctest: +SKIP"""
    manual = MaintenanceStore(config.settings.state_table).current()
    return silences(config, manual, monitor, runbook, at)
