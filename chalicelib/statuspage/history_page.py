"""history.html: the last 90 days of incidents, dated, each with its timeline (what was seen and
what autoheal did, in public words), and the maintenance that ended; rendered from status.json.

An incident autoheal healed by itself (its run verified the recovery and nobody had to be
called) is marked "Auto-healed"; one that needed people, "Engineers alerted".

With vantage points, a failure one region saw and the others did not confirm is a note: one line
per window and region, however many monitors it saw failing, never an incident.
"""

from __future__ import annotations

from datetime import datetime
from string import Template
from typing import Any, Mapping, Optional, Sequence

from chalicelib.statuspage.escape import html_text as e
from chalicelib.statuspage.parts import affects, slugs, stamp, timeline
from chalicelib.statuspage.templates import load_text

DAYS = 90
STYLE, TIMES = load_text("index.css"), load_text("times.js")
PAGE = Template(load_text("history.html"))


def render_history(status: Mapping[str, Any], title: str = "Incident history") -> str:
    incidents = ([status["incident"]] if status.get("incident") else []) + list(status.get("incidents", []))
    names = slugs([c["name"] for c in status["components"]])
    return PAGE.substitute(
        title=e(title),
        style=STYLE,
        days=DAYS,
        updated=stamp(status["updated_at"]),
        incidents="".join(incident(i, n) for n, i in enumerate(incidents)) or "<p>No incidents.</p>",
        notes=notes(status.get("notes", [])),
        maintenance=maintenance(status["maintenance"].get("past", [])),
        by_component=by_component(incidents, names),
        script=TIMES,
    )


def incident(i: Mapping[str, Any], n: int) -> str:
    ended = i.get("resolved_at")
    span = f"{stamp(i['started_at'])} to {stamp(ended) if ended else 'now'}"
    took = duration(i["started_at"], ended)
    return (
        f'<article class="incident" id="i-{e(i.get("id") or n)}" aria-labelledby="i{n}-h">'
        f'<h3 id="i{n}-h">{e(i["title"])}{tag(i)}</h3>'
        f'<p class="muted">{span}{f" ({took})" if took else ""}. {affects(i["components"])}</p>'
        f"{timeline(i['timeline'])}</article>"
    )


def tag(i: Mapping[str, Any]) -> str:
    steps = {x["text"] for x in i["timeline"]}
    if not i.get("resolved_at"):
        return ' <span class="tag s-DOWN">Ongoing</span>'
    if "Engineers alerted" in steps:
        return ' <span class="tag">Engineers alerted</span>'
    if "Recovery verified" in steps:
        return ' <span class="tag s-UP">Auto-healed</span>'
    return ' <span class="tag s-UP">Resolved</span>'


def duration(start: Optional[str], end: Optional[str]) -> str:
    if not start or not end:
        return ""
    try:
        seconds = (parse(end) - parse(start)).total_seconds()
    except ValueError:
        return ""
    minutes = max(1, round(seconds / 60))
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def maintenance(past: Sequence[Mapping[str, Any]]) -> str:
    if not past:
        return "<p>No maintenance.</p>"
    items = "".join(
        f"<li>{stamp(m['start'])} to {stamp(m.get('ended') or m['end'])}: {e(m['message'])} "
        f'<span class="muted">({affects(m["components"])})</span></li>'
        for m in past
    )
    return f"<ul>{items}</ul>"


def by_component(incidents: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> str:
    rows = []
    for name, anchor in names.items():
        mine = [(n, i) for n, i in enumerate(incidents) if not i["components"] or name in i["components"]]
        links = ", ".join(f'<a href="#i-{e(i.get("id") or n)}">{stamp(i["started_at"])}</a>' for n, i in mine)
        rows.append(
            f'<li id="c-{anchor}">{e(name)}: {len(mine)} incident(s){": " + links if links else ""}</li>'
        )
    return f"<ul>{''.join(rows)}</ul>"


def notes(lines: Sequence[Mapping[str, Any]]) -> str:
    """The section of notes, absent when there is none."""
    if not lines:
        return ""
    items = "".join(f"<li>{note(n)}</li>" for n in lines)
    return (
        '<section aria-labelledby="notes-h"><h2 id="notes-h">Seen from one vantage point</h2>'
        '<p class="muted">Failures the other vantage points did not confirm: not incidents.</p>'
        f"<ul>{items}</ul></section>\n"
    )


def note(n: Mapping[str, Any]) -> str:
    """'eu-west-1 alone saw 3 monitors failing at 02:14 UTC; us-east-1 and ap-northeast-2 saw them healthy'"""
    count = int(n.get("monitors") or 0)
    what = f"{count} monitor{'s' if count != 1 else ''}"
    line = f"{e(regions(n.get('failing', [])))} alone saw {what} failing at {stamp(n.get('at'))}"
    if n.get("healthy"):
        line += f"; {e(regions(n['healthy']))} saw {'them' if count != 1 else 'it'} healthy"
    return line


def regions(names: Sequence[str]) -> str:
    """Names as a sentence says them.

    >>> regions(["a", "b", "c"])
    'a, b and c'
    """
    names = list(names)
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
