"""Which incident a signal belongs to: one outage, one incident.

An incident is about what is acted on, not about an alarm's name. Its key is

- `<runbook>/<scope>` for a signal a runbook claims: `scope` is what the signal names (an
  instance id, an Auto Scaling group, a target group) or `*` for the runbook's whole tier, so
  every alarm of one outage that a runbook claims for the same targets lands on one item;
- `component/<component>` for a monitor no runbook claims (its status-page component).

A key is computed from the signal and the config alone, so finding the incident is one GetItem
(two when a narrow signal may overlap the tier's run: `<runbook>/*` is read too). No table
scan, no Query over old incidents.

>>> GroupKey.for_runbook("restart-web", SignalScope.from_dimensions({"InstanceId": "i-0b"})).key
'restart-web/i-0b'
>>> GroupKey.for_runbook("restart-web", SignalScope()).key
'restart-web/*'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from chalicelib.alarms.model import PROBE_ALARM_PREFIX, AlarmEvent
from chalicelib.config.model import Config, Monitor
from chalicelib.runbooks.scope import SignalScope

TIER = "*"


@dataclass(frozen=True)
class GroupKey:
    key: str
    runbook: Optional[str] = None
    scope: str = TIER

    @classmethod
    def for_runbook(cls, runbook: str, scope: SignalScope) -> GroupKey:
        named = scope_name(scope)
        return cls(f"{runbook}/{named}", runbook, named)

    @classmethod
    def for_component(cls, component: str) -> GroupKey:
        return cls(f"component/{component}")

    @property
    def tier(self) -> Optional[GroupKey]:
        """The runbook's whole-tier key when this one is narrower (a run there may cover it)."""
        if self.runbook is None or self.scope == TIER:
            return None
        return GroupKey(f"{self.runbook}/{TIER}", self.runbook, TIER)


def scope_name(scope: SignalScope) -> str:
    if scope.blank:  # names nothing: its own incident, never the tier's (whose run it would block)
        return "empty:" + "+".join(scope.blank)
    return (
        (scope.instance_ids[0] if scope.instance_ids else None)
        or scope.auto_scaling_group
        or scope.target_group
        or TIER
    )


def group_of(alarm: AlarmEvent, runbook: Optional[str], config: Config) -> GroupKey:
    """The signal's own group (before any dependency folds it into another)."""
    if runbook is not None:
        return GroupKey.for_runbook(runbook, SignalScope.from_dimensions(alarm.dimensions))
    monitor = config.monitor(alarm.monitor) if alarm.monitor else None
    return GroupKey.for_component(monitor.component or monitor.name if monitor else alarm.name)


def monitor_group(monitor: Monitor) -> GroupKey:
    """The group of a monitor's own probe signal (no narrower scope: the probe names none)."""
    if monitor.runbook:
        return GroupKey.for_runbook(monitor.runbook, SignalScope())
    return GroupKey.for_component(monitor.component or monitor.name)


def probe_alarm_name(monitor: str) -> str:
    return f"{PROBE_ALARM_PREFIX}{monitor}"


def subject_of(alarm: AlarmEvent) -> str:
    """What people call the signal: its monitor for the probe's own, else the alarm name."""
    return alarm.monitor if alarm.kind == "probe" and alarm.monitor else alarm.name
