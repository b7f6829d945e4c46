"""What the two incident handlers (`on_alarm`, `follow_up`) work with."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from chalicelib.config.model import Config
from chalicelib.runbooks.engine import RunbookEngine
from chalicelib.runbooks.incident_store import IncidentStore


@dataclass
class IncidentDesk:
    config: Config
    incidents: IncidentStore
    engine: RunbookEngine
    clock: Callable[[], float] = time.time
