"""The times a cron expression matches in a time zone, as epoch seconds (cronsim's rules).

Local wall-clock matching is what people mean by "3 a.m.": across a daylight-saving change
cronsim skips a time that does not exist and takes the first of one that happens twice.

>>> list(times("0 3 * * *", "UTC", 0.0, 2 * 86400.0))
[10800.0, 97200.0]
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

MAX_TIMES = 1000  # bounds a search over a long span with a frequent expression


def times(cron: str, time_zone: str, after: float, until: float) -> Iterator[float]:
    """Each match in [after, until), at most MAX_TIMES of them."""
    from cronsim import CronSim  # deferred: only functions that meet a cron expression need it

    # cronsim yields times strictly after its start: step back a second to include `after`.
    local = datetime.fromtimestamp(after, ZoneInfo(time_zone)) - timedelta(seconds=1)
    for count, at in enumerate(CronSim(cron, local)):
        stamp = at.timestamp()
        if stamp >= until or count >= MAX_TIMES:
            return
        if stamp >= after:
            yield stamp
