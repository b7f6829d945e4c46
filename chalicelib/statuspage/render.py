"""index.html: the status page, rendered to static HTML at publish time from status.json v2.

It reads fully with JavaScript off; a small inline script only refreshes the states from
status.json. No external scripts, fonts or CDNs. Templates are the stdlib's string.Template and
small functions over html.escape, not Jinja: the Lambda package and its cold start stay small,
and every value passes through `escape.html_text` on its way in.
"""

from __future__ import annotations

import bisect
from typing import Any, Mapping, Optional, Sequence

from chalicelib.statuspage.escape import html_text as e
from chalicelib.statuspage.escape import script_json
from chalicelib.statuspage.history import LATENCY_BOUNDS
from chalicelib.statuspage.parts import (
    STATE_LABELS,
    affects,
    slugs,
    stamp,
    state_badge,
    timeline,
    worst,
)
from chalicelib.statuspage.templates import load_templates, load_text

REFRESH_MS = 30000  # an open tab re-reads status.json this often (plus up to a sixth, jittered)


STYLE, SCRIPT, PAGE = load_templates("index")
TIMES = load_text("times.js")


def render_index(
    status: Mapping[str, Any],
    title: str = "Service status",
    refresh_ms: int = REFRESH_MS,
    subscribe_url: Optional[str] = None,
) -> str:
    overall = status["overall"]
    names = slugs([c["name"] for c in status["components"]])
    return PAGE.substitute(
        title=e(title),
        style=STYLE,
        overall_class=e(overall["status"]),
        overall=e(overall["text"]),
        updated=stamp(status["updated_at"]),
        banners=banners(status),
        components=grouped(status, names),
        upcoming=scheduled(status["maintenance"]["scheduled"]),
        subscribe=subscribe_form(subscribe_url, names) if subscribe_url else "",
        labels=script_json({"labels": {k: list(v) for k, v in STATE_LABELS.items()}, "every": refresh_ms}),
        script=SCRIPT + TIMES,
    )


def banners(status: Mapping[str, Any]) -> str:
    parts = []
    for n, m in enumerate(status["maintenance"]["active"]):
        parts.append(
            f'<section class="card" aria-labelledby="maint-h{n}">'
            f'<h2 id="maint-h{n}">\u2692 Maintenance in progress</h2>'
            f'<p>{e(m["message"])}</p><p class="muted">{affects(m["components"])} '
            f"Since {stamp(m['start'])}; expected to end by {stamp(m['end'])}.</p></section>"
        )
    incident = status.get("incident")
    if incident:
        parts.append(
            '<section class="card" aria-labelledby="incident-h"><h2 id="incident-h">\u2715 '
            f'{e(incident["title"])}</h2><p class="muted">{affects(incident["components"])} '
            f"Started {stamp(incident['started_at'])}.</p>{timeline(incident['timeline'])}</section>"
        )
    if status.get("deployments"):
        items = "".join(
            f"<li>{e(d.get('name', ''))}: {e(d.get('state', ''))} {e(d.get('detail', ''))}</li>"
            for d in status["deployments"]
        )
        parts.append(
            '<section aria-labelledby="deploy-h"><h2 id="deploy-h">Deployments in progress</h2>'
            f"<ul>{items}</ul></section>"
        )
    return "\n".join(parts)


def subscribe_form(url: str, names: Mapping[str, str]) -> str:
    """A plain POST (no script): an address and the components to hear about (none: all)."""
    boxes = "".join(
        f'<label class="pick"><input type="checkbox" name="component" value="{e(name)}" '
        f'id="sub-{anchor}"> {e(name)}</label>'
        for name, anchor in names.items()
    )
    return (
        f'<section aria-labelledby="sub-h"><h2 id="sub-h">Incident e-mails</h2>'
        f'<form method="post" action="{e(url)}"><p><label for="sub-email">E-mail address</label> '
        '<input id="sub-email" name="email" type="email" required autocomplete="email" maxlength="254"></p>'
        f"<fieldset><legend>Components (none chosen: every one)</legend>{boxes}</fieldset>"
        '<p><button type="submit">Subscribe</button></p><p class="muted">You get an e-mail to confirm '
        "first; every message has a link to unsubscribe.</p></form></section>"
    )


def grouped(status: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """Components in config order; those of a `group:` under one collapsible heading (no JS),
    open while one of them is not operational."""
    sections: list[tuple[Optional[str], list[int]]] = []
    where: dict[str, int] = {}
    for i, c in enumerate(status["components"]):
        group = c.get("group")
        if group is None:
            sections.append((None, [i]))
        elif group in where:
            sections[where[group]][1].append(i)
        else:
            where[group] = len(sections)
            sections.append((group, [i]))
    out = []
    for group, members in sections:
        cards = "".join(component(status["components"][i], i, status, names) for i in members)
        if group is None:
            out.append(cards)
            continue
        state = worst([status["components"][i]["status"] for i in members])
        opened = " open" if state != "UP" else ""
        out.append(
            f'<details class="group"{opened}><summary><span class="gname">{e(group)}</span> '
            f"{state_badge(state)}</summary>{cards}</details>"
        )
    return "\n".join(out)


def scheduled(windows: Sequence[Mapping[str, Any]]) -> str:
    if not windows:
        return ""
    items = "".join(
        f"<li>{stamp(w['start'])} to {stamp(w['end'])}: {e(w['message'])} "
        f'<span class="muted">({affects(w["components"])})</span></li>'
        for w in windows
    )
    heading = '<h2 id="sched-h">Scheduled maintenance</h2>'
    return f'<section aria-labelledby="sched-h">{heading}<ul>{items}</ul></section>'


def component(c: Mapping[str, Any], index: int, status: Mapping[str, Any], names: Mapping[str, str]) -> str:
    details = [f"since {stamp(c['since'])}" if c.get("since") else ""]
    incidents = ([status["incident"]] if status.get("incident") else []) + list(status.get("incidents", []))
    if c.get("reason"):
        details.append(f"reason: {e(c['reason'])}")
    if c.get("latency_ms") is not None:
        details.append(f"last response {int(c['latency_ms'])} ms")
    uptime = "".join(
        f"<div><dt>{label}</dt><dd>{pct(c['uptime'].get(key))}</dd></div>"
        for key, label in (("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"))
    )
    return (
        f'<article class="card" id="c-{names[c["name"]]}" data-c="{index}" data-name="{e(c["name"])}" '
        f'aria-labelledby="c{index}-h">'
        f'<h3 id="c{index}-h"><span>{e(c["name"])}</span> {state_badge(c["status"])}</h3>'
        f'<p class="muted">{" &middot; ".join(d for d in details if d)}</p>'
        f'<dl class="uptime" aria-label="Uptime">{uptime}</dl>'
        f"{bars(c['days'], index)}{chart(c['days'], index, c['name'])}"
        f"{history(c['name'], names[c['name']], incidents)}</article>"
    )


def pct(value: Optional[float]) -> str:
    if value is None:
        return "no data"
    return f"{value:.2f}%" if value < 100 else "100%"


def day_words(day: Mapping[str, Any]) -> tuple[str, str]:
    """(css class, the day's figures in words) for one daily bar; latency is in the chart."""
    if not day.get("data"):
        return "b-none", "no data"
    figures = [f"{pct(day['uptime'])} up"]
    if day["down"]:
        reasons = f" ({', '.join(day['reasons'])})" if day.get("reasons") else ""
        figures.append(f"{day['down']} min down{reasons}")
    if day["maintenance"]:
        figures.append(f"{day['maintenance']} min maintenance")
    if day["down"]:
        kind = "b-down" if (day["uptime"] or 0) < 99 else "b-partial"
    elif day["up"]:
        kind = "b-up"
    elif day["maintenance"]:
        kind = "b-maint"
    else:
        kind, figures = "b-unknown", ["not checked"]
    return kind, ", ".join(figures)


def bars(days: Sequence[Mapping[str, Any]], index: int) -> str:
    """One bar (`<i>`) per day; a run of alike days (all up, or no data) is one item whose words
    are written once, shown on hover and read by screen readers."""
    runs: list[tuple[str, str, list[str]]] = []  # (class, words, dates)
    for day in days:
        kind, words = day_words(day)
        if runs and (runs[-1][0], runs[-1][1]) == (kind, words) and kind in ("b-up", "b-none"):
            runs[-1][2].append(day["date"])
        else:
            runs.append((kind, words, [day["date"]]))
    items = "".join(
        f'<li class="{kind}">{"<i></i>" * len(dates)}<span class="vh">'
        f"{e(dates[0] if len(dates) == 1 else f'{dates[0]} to {dates[-1]}')}: {e(words)}</span></li>"
        for kind, words, dates in runs
    )
    label = f"Daily uptime, last {len(days)} days, oldest first"
    return f'<ol class="bars" aria-label="{label}">{items}</ol>'


def chart(days: Sequence[Mapping[str, Any]], index: int, name: str) -> str:
    """Daily p50 and p95 as two step lines over the latency buckets (so a steady day costs
    nothing on the wire), with the figures in words as its caption."""
    points = [(i, d.get("p50"), d.get("p95")) for i, d in enumerate(days) if d.get("p50") is not None]
    caption = f"Response time of {name}, last {len(days)} days (daily p50 solid, p95 dashed)"
    if not points:
        return f'<p class="muted">{e(caption)}: no data yet.</p>'
    levels = [level(ms) for _, p50, p95 in points for ms in (p50, p95)]
    low, high = min(levels), max(levels)
    p50s, p95s = [p[1] for p in points], [p[2] for p in points]
    summary = (
        f"p50 from {min(p50s)} to {max(p50s)} ms, p95 from {min(p95s)} to {max(p95s)} ms, "
        f"over {len(points)} days with data."
    )
    return (
        f'<figure><svg viewBox="0 -.5 {len(days)} {high - low + 2}" preserveAspectRatio="none" '
        f'aria-hidden="true" class="chart">'
        f'<path class="p95" d="{step_path(points, 2, high)}"/>'
        f'<path class="p50" d="{step_path(points, 1, high)}"/>'
        f"</svg><figcaption>{e(caption)}: {e(summary)}</figcaption></figure>"
    )


def level(ms: int) -> int:
    """The latency bucket of a reported percentile (percentiles are bucket bounds)."""
    return bisect.bisect_left(LATENCY_BOUNDS, ms)


def step_path(points: Sequence[tuple[int, Any, Any]], which: int, high: int) -> str:
    """An SVG path: one unit per day, `h1` when a day stays in its bucket, a move over gaps."""
    parts, last = [], None
    for point in points:
        x, y = point[0], high - level(point[which]) + 0.5
        if last is None or last[0] != x - 1:
            parts.append(f"M{x} {y:g}h1")
        elif y != last[1]:
            parts.append(f"v{y - last[1]:g}h1")
        else:
            parts.append("h1")
        last = (x, y)
    return "".join(parts)


def history(name: str, anchor: str, incidents: Sequence[Mapping[str, Any]]) -> str:
    """How many incidents the component had; their stories are on history.html."""
    mine = [i for i in incidents if not i["components"] or name in i["components"]]
    if not mine:
        return '<p class="muted">No incidents in the last 90 days.</p>'
    return f'<p><a href="history.html#c-{anchor}">Incident history ({len(mine)})</a></p>'
