"""When a scheduled runbook is due: the latest time its cron matched, not yet run, not too late.

`follow_up` asks every minute. A tick that comes late (a throttled or failed invocation) still
runs the night's restart within CATCH_UP_SECONDS; one later than that skips it rather than
restart at a time nobody chose (at noon, say).

>>> from chalicelib.config.model import Schedule
>>> due(Schedule("0 3 * * *"), last_fired=None, now=3 * 3600 + 30)
10800.0
>>> due(Schedule("0 3 * * *"), last_fired=10800.0, now=3 * 3600 + 90) is None
True
"""

from __future__ import annotations

from typing import Optional

from chalicelib import cron
from chalicelib.config.model import Schedule

CATCH_UP_SECONDS = 900.0


def due(schedule: Schedule, last_fired: Optional[float], now: float) -> Optional[float]:
    """The latest match in (last_fired, now] within CATCH_UP_SECONDS of now, else None."""
    since = now - CATCH_UP_SECONDS
    if last_fired is not None:
        since = max(since, last_fired + 1)
    matches = list(cron.times(schedule.cron, schedule.time_zone, since, now + 1))
    return matches[-1] if matches else None
