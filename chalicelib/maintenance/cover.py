"""Whether maintenance covers a component at a moment (pure): the one rule every silencer uses.

The manual switch (unless expired) and the config's windows count alike. An alarm that names
no component (a CloudWatch alarm whose runbook no monitor uses) is covered only by a
maintenance of every component.

>>> from chalicelib.config.model import MaintenanceWindow
>>> weekly = MaintenanceWindow(duration=3600, message="db", cron="0 3 * * SUN", components=("API",))
>>> covers((weekly,), None, "API", 1_750_561_200.0)      # Sunday 2025-06-22 03:00 UTC
True
>>> covers((weekly,), None, "Website", 1_750_561_200.0)
False
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

from chalicelib.config.model import Config, MaintenanceWindow
from chalicelib.maintenance import windows
from chalicelib.maintenance.mode import ManualMaintenance


def covers(
    scheduled: Sequence[MaintenanceWindow],
    manual: Optional[ManualMaintenance],
    component: str,
    at: float,
) -> bool:
    """True while the switch or a window covers `component` ("" : only an all-component one)."""
    return covered_at(windows.active(scheduled, at), manual, component, at)


def covered_at(
    active: Sequence[windows.Occurrence], manual: Optional[ManualMaintenance], component: str, at: float
) -> bool:
    """`covers` with the windows active at `at` already worked out (one cycle asks for many)."""
    if manual is not None and not manual.expired(at) and covered(manual.components, component):
        return True
    return any(covered(o.components, component) for o in active)


def covers_any(
    scheduled: Sequence[MaintenanceWindow],
    manual: Optional[ManualMaintenance],
    components: Iterable[str],
    at: float,
) -> bool:
    """True when any of `components` is covered; with none, only an all-component maintenance."""
    return covers_any_at(windows.active(scheduled, at), manual, components, at)


def covers_any_at(
    active: Sequence[windows.Occurrence],
    manual: Optional[ManualMaintenance],
    components: Iterable[str],
    at: float,
) -> bool:
    names = list(components) or [""]
    return any(covered_at(active, manual, name, at) for name in names)


def in_effect(
    scheduled: Sequence[MaintenanceWindow], manual: Optional[ManualMaintenance], at: float
) -> Optional[str]:
    """The message of the maintenance in effect at `at` (the switch first), or None."""
    if manual is not None and not manual.expired(at):
        return manual.message
    active = windows.active(scheduled, at)
    return active[0].message if active else None


def diverting(
    scheduled: Sequence[MaintenanceWindow],
    manual: Optional[ManualMaintenance],
    served: Iterable[str],
    at: float,
) -> Optional[str]:
    """The message of a maintenance in effect at `at` that covers every component in `served`
    (the switch first), or None: only such a maintenance takes a listener to the page; one of
    some components leaves it serving and marks those components.

    >>> from chalicelib.maintenance.mode import ManualMaintenance
    >>> api_only = ManualMaintenance("db", 0.0, 600.0, ("API",))
    >>> diverting((), api_only, ["Website", "API"], 60.0) is None, diverting((), api_only, ["API"], 60.0)
    (True, 'db')
    """
    names = list(served) or [""]
    if manual is not None and not manual.expired(at) and all(covered(manual.components, n) for n in names):
        return manual.message
    for occurrence in windows.active(scheduled, at):
        if all(covered(occurrence.components, n) for n in names):
            return occurrence.message
    return None


def served_by_listener(config: Config) -> list[str]:
    """The components behind the maintenance listener: those it names, else every component."""
    listener = config.maintenance.listener
    if listener is not None and listener.components:
        return list(listener.components)
    return sorted({m.component or m.name for m in config.monitors})


def components_of(config: Config, monitor: Optional[str], runbook: Optional[str]) -> list[str]:
    """The components an alarm is about: its monitor's, else those of the monitors using its
    runbook (empty when neither says)."""
    found = config.monitor(monitor) if monitor else None
    if found is not None:
        return [found.component or found.name]
    if runbook:
        return sorted({m.component or m.name for m in config.monitors if m.runbook == runbook})
    return []


def silences(
    config: Config,
    manual: Optional[ManualMaintenance],
    monitor: Optional[str],
    runbook: Optional[str],
    at: float,
) -> bool:
    """Whether an ALARM about `monitor` (or routed to `runbook`) is held back at `at`: no
    runbook, no notification, while its state keeps being recorded."""
    return silenced_at(config, windows.active(config.maintenance.windows, at), manual, monitor, runbook, at)


def silenced_at(
    config: Config,
    active: Sequence[windows.Occurrence],
    manual: Optional[ManualMaintenance],
    monitor: Optional[str],
    runbook: Optional[str],
    at: float,
) -> bool:
    """`silences` with the windows active at `at` already worked out."""
    return covers_any_at(active, manual, components_of(config, monitor, runbook), at)


def covered(components: Sequence[str], component: str) -> bool:
    return not components or component in components
