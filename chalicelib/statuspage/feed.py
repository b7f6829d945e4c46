"""feed.xml: an Atom feed of incidents and maintenance (past, in progress and announced).

Every text goes through `escape.xml_text` (which also drops characters XML forbids, so one
odd alarm text cannot make readers reject the whole feed). Links are relative to the feed.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

from chalicelib.statuspage.escape import xml_text as x

FEED_ID = "tag:autoheal,2025:status"


def render_feed(status: Mapping[str, Any], title: str = "Service status") -> str:
    entries = []
    incident = status.get("incident")
    if incident:
        entries.append(incident_entry(incident, ongoing=True))
    entries += [incident_entry(i, ongoing=False) for i in status.get("incidents", [])]
    maintenance = status["maintenance"]
    entries += [maintenance_entry(m, "In progress") for m in maintenance["active"]]
    entries += [maintenance_entry(m, "Scheduled") for m in maintenance["scheduled"]]
    entries += [maintenance_entry(m, "Completed") for m in maintenance.get("past", [])]
    body = "\n".join(entry for _, entry in sorted(entries, key=lambda pair: pair[0], reverse=True))
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<id>{FEED_ID}</id><title>{x(title)}: incidents and maintenance</title>\n"
        f"<updated>{x(status['updated_at'])}</updated><author><name>{x(title)}</name></author>\n"
        f'<link rel="alternate" type="text/html" href="index.html"/>\n{body}\n</feed>\n'
    )


def incident_entry(incident: Mapping[str, Any], ongoing: bool) -> tuple[str, str]:
    started = incident["started_at"] or ""
    updated = incident.get("resolved_at") or (
        incident["timeline"][-1]["at"] if incident["timeline"] else started
    )
    lines = [f"{e['at'] or ''} {e['text']}" for e in incident["timeline"]]
    state = "Ongoing" if ongoing else "Resolved"
    summary = f"{state}. Affects: {', '.join(incident['components']) or 'every component'}."
    return updated or "", entry(
        f"incident:{incident.get('id') or started + ':' + incident['title']}",
        f"{state}: {incident['title']}",
        updated or started,
        "\n".join([summary, *lines]),
    )


def maintenance_entry(m: Mapping[str, Any], state: str) -> tuple[str, str]:
    start, end = m.get("start") or "", m.get("ended") or m.get("end") or ""
    where = ", ".join(m["components"]) or "every component"
    summary = f"{state} maintenance from {start} to {end}. Affects: {where}."
    return start, entry(
        f"maintenance:{start}:{m['message']}:{state}",
        f"Maintenance ({state.lower()}): {m['message']}",
        start,
        f"{summary}\n{m['message']}",
    )


def entry(key: str, title: str, updated: str, text: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return (
        f"<entry><id>{FEED_ID}:{digest}</id><title>{x(title)}</title><updated>{x(updated)}</updated>"
        f'<link rel="alternate" type="text/html" href="index.html"/>'
        f'<content type="text">{x(text)}</content></entry>'
    )
