"""What the status site shows beyond the probe: incidents with their public timeline, and
deployments in flight. Read once per publish (one Query for incidents, one GetItem per configured
deployment), and only when the site publishes: on a change, or hourly.

Public by design: an incident's story is written for operators (instance ids, command ids, alarm
names and reasons), so only the lines that say what autoheal did are kept, in public words.

>>> public_line("restart web (pm2) sent to i-0abc (command 7f)")
'Restart sent'
>>> public_line("command 7f: {'i-0abc': 'Success'}") is None
True
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Callable, Mapping, Optional

from chalicelib.alarms.model import PROBE_ALARM_PREFIX
from chalicelib.config.model import Config
from chalicelib.maintenance.cover import components_of

COMPONENT_KEY = "component/"  # runbooks.grouping's key of a monitor no runbook claims

RECENT_DAYS = 90
MAX_INCIDENTS = 100  # history.html lists the last 90 days
MAX_NOTES = 100  # one line each: a region that saw failures the others did not confirm
# (pattern on the story line, public text), first match wins; unmatched lines stay private.
PUBLIC_LINES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (r"^\S+ ALARM: ", "Problem detected by monitoring"),
        (r"^restart\b.* sent to ", "Restart sent"),
        (r"^run\b.* sent to ", "Repair command sent"),
        (r"^reboot requested\b", "Reboot requested"),
        (r"^marked unhealthy for replacement\b", "Instance replacement requested"),
        (r"^verified: ", "Recovery verified"),
        (r"^verify failed", "Still failing after the action; trying the next one"),
        (r"^maintenance page on\b", "Maintenance page on"),
        (r"^maintenance page off\b", "Maintenance page off"),
        (
            r"ran every step without a verified recovery|no targets found|step \d+ \(\w+\) failed",
            "Engineers alerted",
        ),
        (r"^OK: ", "Recovered"),
    )
)
TIME = re.compile(r"^(\d\d):(\d\d):(\d\d) (.*)$", re.DOTALL)


def public_line(line: str) -> Optional[str]:
    for pattern, words in PUBLIC_LINES:
        if pattern.search(line):
            return words
    return None


def timeline(story: list[str], opened_at: float) -> list[dict[str, Any]]:
    """Story lines ("HH:MM:SS text", UTC) as public {at, text} entries; the day is rebuilt from
    `opened_at` (a time of day earlier than the previous line's is the next day)."""
    entries: list[dict[str, Any]] = []
    day = datetime.fromtimestamp(opened_at, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    previous = opened_at - 1
    told: set[str] = set()
    for line in story:
        match = TIME.match(line)
        if not match:
            continue
        hours, minutes, seconds, text = match.groups()
        at = (day + timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds))).timestamp()
        while at < previous - 1:  # past midnight since the line before
            day += timedelta(days=1)
            at += 86400
        previous = at
        words = public_line(text)
        if words and words not in told:  # each step of the story once, when it first happened
            told.add(words)
            entries.append({"at": at, "text": words})
    return entries


def incident_components(incident: Any, config: Config) -> list[str]:
    """What an incident affects: the component its key names, else its probe signals' monitors'
    components and its runbook's (empty when none of them says: every component)."""
    known = {m.component or m.name for m in config.monitors}
    if incident.key.startswith(COMPONENT_KEY) and incident.key[len(COMPONENT_KEY) :] in known:
        return [incident.key[len(COMPONENT_KEY) :]]
    found: set[str] = set()
    for signal in incident.signals:
        if signal.startswith(PROBE_ALARM_PREFIX):
            found.update(components_of(config, signal[len(PROBE_ALARM_PREFIX) :], None))
    if incident.run:
        found.update(components_of(config, None, incident.run.runbook))
    return sorted(found)


def incident_id(incident: Any) -> str:
    """The incident's own id, public and stable: its key and opening (the key may name an
    instance, so only a digest of it is shown)."""
    return hashlib.sha256(f"{incident.key}@{incident.opened_at}".encode()).hexdigest()[:20]


def incident_view(incident: Any, config: Config) -> dict[str, Any]:
    components = incident_components(incident, config)
    title = f"{', '.join(components)} disrupted" if components else "Service disruption"
    return {
        "id": incident_id(incident),
        "title": title,
        "components": components,
        "started_at": incident.opened_at,
        "resolved_at": incident.resolved_at,
        "timeline": timeline(incident.story, incident.opened_at),
    }


def merge_open(views: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """The page shows one incident in progress: every open one, merged."""
    if not views:
        return None
    if len(views) == 1:
        return views[0]
    components = sorted({c for v in views for c in v["components"]})
    first = min(views, key=lambda v: v["started_at"])
    return {
        "id": first["id"],  # the merged outage goes on under its first incident's id
        "title": f"{', '.join(components)} disrupted" if components else "Service disruption",
        "components": components,
        "started_at": min(v["started_at"] for v in views),
        "resolved_at": None,
        "timeline": sorted((e for v in views for e in v["timeline"]), key=lambda e: e["at"]),
    }


def deployment_view(record: Any) -> dict[str, Any]:
    detail = f"{record.percent}% of traffic on the new version"
    return {"name": record.name, "state": record.state, "detail": detail}


def extras_from(config: Config, incidents: list[Any], deployments: list[Any], now: float) -> dict[str, Any]:
    """Pure: the site's extras from stored incidents and deployment records."""
    from chalicelib.runbooks.incident import OPEN

    recent = now - RECENT_DAYS * 86400
    opened = [incident_view(i, config) for i in incidents if i.status == OPEN]
    past = [
        incident_view(i, config)
        for i in sorted(incidents, key=lambda i: i.opened_at, reverse=True)
        if i.status != OPEN and (i.resolved_at or i.opened_at) >= recent
    ][:MAX_INCIDENTS]
    return {
        "incident": merge_open(opened),
        "incidents": past,
        "deployments": [deployment_view(d) for d in deployments if d.in_flight],
    }


Notes = Callable[[float], list[dict[str, Any]]]


def site_extras(
    config: Config, incidents: Any, deployments: Any, blips: Optional[Notes] = None
) -> Callable[[float], Mapping[str, Any]]:
    """The deployed source: `incidents` (an IncidentStore: one Query), each configured
    deployment from `deployments` (a DeploymentStore: one GetItem each) and, with vantage
    points, `blips(now)`: the notes of regions that saw failures the others did not confirm."""

    def read(now: float) -> Mapping[str, Any]:
        recent = incidents.recent(now - RECENT_DAYS * 86400)
        found = [r for name in config.deployments if (r := deployments.get(name)) is not None]
        return extras_from(config, recent, found, now) | ({"notes": blips(now)} if blips else {})

    return read


def note_view(blip: Any) -> dict[str, Any]:
    """A blip as the page shows it: regions and a count, never the monitors' names."""
    return {
        "at": blip.at,
        "failing": list(blip.failing),
        "healthy": list(blip.healthy),
        "monitors": blip.monitors,
    }
