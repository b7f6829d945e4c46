"""HTML pieces every page shares: times, state badges, timelines, what a maintenance affects.

A time is written as UTC text in a `<time datetime>`: that is what a reader without JavaScript
sees; `templates/times.js` turns it into the reader's local time and how long ago.

>>> stamp("2025-06-15T15:06:40Z")
'<time datetime="2025-06-15T15:06:40Z">2025-06-15 15:06 UTC</time>'
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Sequence

from chalicelib.statuspage.escape import html_text as e

STATE_LABELS = {
    "UP": ("\u2713", "Operational"),
    "DOWN": ("\u2715", "Down"),
    "MAINTENANCE": ("\u2692", "Maintenance"),
    "UNKNOWN": ("?", "No data"),
}
SEVERITY = {"UP": 0, "UNKNOWN": 1, "MAINTENANCE": 2, "DOWN": 3}
ISO = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(:\d\d)?Z$")


def stamp(iso: Optional[str], missing: str = "") -> str:
    if not iso:
        return e(missing)
    match = ISO.match(iso)
    shown = f"{match.group(1)} {match.group(2)} UTC" if match else iso
    return f'<time datetime="{e(iso)}">{e(shown)}</time>'


def state_badge(status: str) -> str:
    glyph, label = STATE_LABELS.get(status, STATE_LABELS["UNKNOWN"])
    key = status if status in STATE_LABELS else "UNKNOWN"
    return f'<span class="state s-{key}">{glyph} {label}</span>'


def worst(statuses: Sequence[str]) -> str:
    return max(statuses, key=lambda s: SEVERITY.get(s, 1), default="UNKNOWN")


def affects(components: Sequence[str]) -> str:
    return f"Affects: {e(', '.join(components))}." if components else "Affects: every component."


def timeline(entries: Sequence[Mapping[str, Any]]) -> str:
    if not entries:
        return ""
    items = "".join(f"<li>{stamp(x['at'])} {e(x['text'])}</li>" for x in entries)
    return f'<ol class="timeline">{items}</ol>'


def slug(name: str, taken: set[str]) -> str:
    """A file and anchor name for a component: lowercase letters, digits and '-', unique."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "component"
    found, n = base, 1
    while found in taken:
        n += 1
        found = f"{base}-{n}"
    taken.add(found)
    return found


def slugs(names: Sequence[str]) -> dict[str, str]:
    taken: set[str] = set()
    return {name: slug(name, taken) for name in names}
