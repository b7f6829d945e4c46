"""Pick the runbook for an alarm event, from the config alone.

Order: the probe's own event (named autoheal-probe-<monitor>, on its availability metric) goes to
its monitor's runbook; any other alarm to the first `alarms:` route whose glob matches the
AlarmName (case-sensitive, so `web-*` never matches `WEB-x`).

>>> route(event, config)  # doctest: +SKIP
'restart-web'
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Optional

from chalicelib.alarms.model import AlarmEvent
from chalicelib.config.model import Config


def route(event: AlarmEvent, config: Config) -> Optional[str]:
    """The runbook name for `event`, or None when nothing should run."""
    if event.kind == "probe":
        monitor = config.monitor(event.monitor) if event.monitor else None
        return monitor.runbook if monitor is not None else None
    for alarm in config.alarms:
        if fnmatchcase(event.name, alarm.match):
            return alarm.runbook
    return None
