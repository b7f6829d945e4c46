"""status.json v2: the one document every page reads (pure).

Public by design: components and their coarse reasons only, never host names, URLs or body
values. `healthy` is true only when every monitor is UP (the maintenance page's main signal);
`overall` is the headline, its status and its words (an open tab's script shows the same).
Every text passes `text()`: one line, no control, bidi or zero-width character.

Inputs the probe does not own arrive ready-made: the incident in progress and its timeline
(`{"at", "text"}` items), past incidents, deployments in flight and the maintenance view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Mapping, Optional, Sequence

from chalicelib.config.model import Monitor
from chalicelib.notify.format import one_line
from chalicelib.probe.result import ProbeResult
from chalicelib.state.thresholds import DOWN, UNKNOWN, UP, MonitorState
from chalicelib.statuspage import history as h
from chalicelib.statuspage.reasons import coarse

VERSION = 2
DAYS = 90
MAINTENANCE = "MAINTENANCE"
UPTIME_DAYS = {"7d": 7, "30d": 30, "90d": 90}


@dataclass(frozen=True)
class MaintenanceView:
    """What is in maintenance now and what is announced (each: message, start, end, components)."""

    active: Sequence[Mapping[str, Any]] = ()
    scheduled: Sequence[Mapping[str, Any]] = ()

    def covers(self, component: str) -> bool:
        return any(not m.get("components") or component in m["components"] for m in self.active)

    def began(self, component: str) -> Optional[float]:
        """When the maintenance covering `component` began (the earliest of those covering it)."""
        starts = [
            float(m["start"])
            for m in self.active
            if (not m.get("components") or component in m["components"]) and m.get("start") is not None
        ]
        return min(starts, default=None)


@dataclass(frozen=True)
class Extras:
    """What other parts of autoheal tell the page."""

    incident: Optional[Mapping[str, Any]] = None  # {title, started_at, components, timeline: [{at, text}]}
    incidents: Sequence[Mapping[str, Any]] = ()  # resolved ones, newest first
    deployments: Sequence[Mapping[str, Any]] = ()  # {name, state, detail}
    maintenance: MaintenanceView = field(default_factory=MaintenanceView)
    maintenance_log: Sequence[Mapping[str, Any]] = ()  # ended maintenances, newest first
    notes: Sequence[
        Mapping[str, Any]
    ] = ()  # {at, failing, healthy, monitors}: one region's blip, newest first


def build_status(
    monitors: Sequence[Monitor],
    states: Mapping[str, MonitorState],
    results: Mapping[str, ProbeResult],
    history: Mapping[str, Mapping[str, h.DayRollup]],
    now: float,
    extras: Extras = Extras(),
) -> dict:
    groups: dict[str, list[Monitor]] = {}
    for monitor in monitors:
        groups.setdefault(monitor.component or monitor.name, []).append(monitor)
    components = [
        component_entry(name, members, states, results, history, now, extras.maintenance)
        for name, members in groups.items()
    ]
    incident = incident_entry(extras.incident) if extras.incident else None
    return {
        "version": VERSION,
        "updated_at": iso(now),
        "healthy": bool(monitors) and all(states.get(m.name, MonitorState()).status == UP for m in monitors),
        "overall": overall_entry([c["status"] for c in components], incident is not None),
        "components": components,
        "incident": incident,
        "incidents": [incident_entry(i) for i in extras.incidents],
        "deployments": [deployment_entry(d) for d in extras.deployments],
        "maintenance": {
            "active": [maintenance_entry(m) for m in extras.maintenance.active],
            "scheduled": [maintenance_entry(m) for m in extras.maintenance.scheduled],
            "past": [maintenance_entry(m) for m in extras.maintenance_log],
        },
        "notes": [note_entry(n) for n in extras.notes],
    }


def component_entry(
    name: str,
    members: Sequence[Monitor],
    states: Mapping[str, MonitorState],
    results: Mapping[str, ProbeResult],
    history: Mapping[str, Mapping[str, h.DayRollup]],
    now: float,
    maintenance: MaintenanceView,
) -> dict:
    monitor_states = [states.get(m.name, MonitorState()) for m in members]
    statuses = [s.status for s in monitor_states]
    if maintenance.covers(name):
        status = MAINTENANCE
    elif DOWN in statuses:
        status = DOWN
    elif statuses and all(s == UP for s in statuses):
        status = UP
    else:
        status = UNKNOWN
    if status == MAINTENANCE:  # since the maintenance began, not since a monitor last changed
        since = maintenance.began(name) or 0.0
    else:
        since = max((s.since for s in monitor_states if s.status == status and s.since), default=0.0)
    latencies = [
        results[m.name].latency_ms for m in members if m.name in results and results[m.name].latency_ms
    ]
    down_reasons = sorted({coarse(s.reason) for s in monitor_states if s.status == DOWN and s.reason})
    names = [m.name for m in members]
    days = [day_entry(day, names, history, now) for day in h.last_days(now, DAYS)]
    return {
        "name": text(name),
        "group": text(next((m.group for m in members if m.group), "")) or None,
        "status": status,
        "since": iso(since) if since else None,
        "latency_ms": round(max(latencies)) if latencies else None,
        "reason": ", ".join(down_reasons) or None,
        "uptime": uptime_entry(names, history, now),
        "days": days,
    }


def day_entry(
    day: str, monitors: Sequence[str], history: Mapping[str, Mapping[str, h.DayRollup]], now: float
):
    total = h.DayRollup(day)
    found = False
    for monitor in monitors:
        rollup = history.get(day, {}).get(monitor)
        if rollup is not None:
            total.merge(rollup)
            found = True
    if not found:
        return {"date": day, "data": False}
    elapsed = h.elapsed_minutes(day, now) * len(monitors)
    return {
        "date": day,
        "data": True,
        "up": total.up,
        "down": total.down,
        "maintenance": total.maintenance,
        "unknown": total.unknown(elapsed),
        "uptime": total.uptime(),
        "p50": total.p50(),
        "p95": total.p95(),
        "reasons": sorted(total.reasons, key=lambda r: -total.reasons[r])[:3],
    }


def uptime_entry(monitors: Sequence[str], history: Mapping[str, Mapping[str, h.DayRollup]], now: float):
    # Counts are summed across the component's monitors: percentages would not add up.
    up = down = 0
    for monitor in monitors:
        for back in range(24):
            counts = _hour_counts(history, monitor, now - back * 3600)
            up, down = up + counts[0], down + counts[1]
    entry: dict[str, Optional[float]] = {"24h": h.percent(up, up + down)}
    for label, count in UPTIME_DAYS.items():
        days = h.last_days(now, count)
        entry[label] = h.uptime_over(
            history[day][monitor] for day in days for monitor in monitors if monitor in history.get(day, {})
        )
    return entry


def _hour_counts(history: Mapping[str, Mapping[str, h.DayRollup]], monitor: str, at: float) -> list[int]:
    moment = datetime.fromtimestamp(at, UTC)
    rollup = history.get(moment.strftime("%Y-%m-%d"), {}).get(monitor)
    return (rollup.hours.get(moment.hour) if rollup else None) or [0, 0, 0]


def overall_entry(statuses: Sequence[str], incident_open: bool) -> dict:
    """The headline: its class and its words, one decision for the page and its script."""
    if DOWN in statuses or incident_open:
        return {"status": DOWN, "text": "Some systems are affected"}
    if statuses and all(s == MAINTENANCE for s in statuses):
        return {"status": MAINTENANCE, "text": "Under maintenance"}
    if MAINTENANCE in statuses:
        return {"status": MAINTENANCE, "text": "Maintenance in progress"}
    if statuses and all(s == UP for s in statuses):
        return {"status": UP, "text": "All systems operational"}
    return {"status": UNKNOWN, "text": "Some systems are not checked yet"}


def incident_entry(incident: Mapping[str, Any]) -> dict:
    return {
        "id": text(incident.get("id")) or None,
        "title": text(incident.get("title"), "Incident"),
        "components": [text(c) for c in incident.get("components", [])],
        "started_at": when(incident.get("started_at")),
        "resolved_at": when(incident.get("resolved_at")),
        "timeline": [
            {"at": when(e.get("at")), "text": text(e.get("text"))} for e in incident.get("timeline", [])
        ],
    }


def deployment_entry(deployment: Mapping[str, Any]) -> dict:
    return {
        key: text(deployment.get(key))
        for key in ("name", "state", "detail")
        if deployment.get(key) is not None
    }


def maintenance_entry(entry: Mapping[str, Any]) -> dict:
    return {
        "message": text(entry.get("message")),
        "start": when(entry.get("start", entry.get("since"))),
        "end": when(entry.get("end", entry.get("until"))),
        "ended": when(entry.get("ended")),
        "components": [text(c) for c in entry.get("components", [])],
    }


def note_entry(note: Mapping[str, Any]) -> dict:
    return {
        "at": when(note.get("at")),
        "failing": [text(r) for r in note.get("failing", [])],
        "healthy": [text(r) for r in note.get("healthy", [])],
        "monitors": int(note.get("monitors", 0)),
    }


def text(value: object, default: str = "") -> str:
    """Plain text on one line, bounded, without control, bidi or zero-width characters (as on
    every notification channel); escaping is the renderer's job (json.dumps is the JSON one)."""
    return default if value is None else one_line(str(value)[:500])


def when(value: object) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return iso(float(value))
    return text(value)[:40]


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
