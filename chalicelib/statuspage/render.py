"""index.html: the status page, rendered to static HTML at publish time from status.json v2.

It reads fully with JavaScript off; a small inline script only refreshes the states from
status.json. No external scripts, fonts or CDNs. Templates are the stdlib's string.Template and
small functions over html.escape, not Jinja: the Lambda package and its cold start stay small,
and every value passes through `escape.html_text` on its way in.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from chalicelib.statuspage.escape import html_text as e
from chalicelib.statuspage.escape import script_json
from chalicelib.statuspage.templates import load_templates

STATE_LABELS = {
    "UP": ("\u2713", "Operational"),
    "DOWN": ("\u2715", "Down"),
    "MAINTENANCE": ("\u2692", "Maintenance"),
    "UNKNOWN": ("?", "No data"),
}
CHART_W, CHART_H = 600, 120
REFRESH_MS = 30000  # an open tab re-reads status.json this often (plus up to a sixth, jittered)


STYLE, SCRIPT, PAGE = load_templates("index")


def render_index(
    status: Mapping[str, Any], title: str = "Service status", refresh_ms: int = REFRESH_MS
) -> str:
    overall = status["overall"]
    return PAGE.substitute(
        title=e(title),
        style=STYLE,
        overall_class=e(overall["status"]),
        overall=e(overall["text"]),
        updated=e(status["updated_at"]),
        banners=banners(status),
        components="\n".join(component(c, i, status) for i, c in enumerate(status["components"])),
        upcoming=scheduled(status["maintenance"]["scheduled"]),
        labels=script_json({"labels": {k: list(v) for k, v in STATE_LABELS.items()}, "every": refresh_ms}),
        script=SCRIPT,
    )


def state_badge(status: str) -> str:
    glyph, label = STATE_LABELS.get(status, STATE_LABELS["UNKNOWN"])
    key = status if status in STATE_LABELS else "UNKNOWN"
    return f'<span class="state s-{key}">{glyph} {label}</span>'


def banners(status: Mapping[str, Any]) -> str:
    parts = []
    for m in status["maintenance"]["active"]:
        parts.append(
            '<section class="card" aria-labelledby="maint-h">'
            '<h2 id="maint-h">\u2692 Maintenance in progress</h2>'
            f'<p>{e(m["message"])}</p><p class="muted">{affects(m["components"])} '
            f"Since {e(m['start'] or '')}; ends by {e(m['end'] or '')}.</p></section>"
        )
    incident = status.get("incident")
    if incident:
        parts.append(
            '<section class="card" aria-labelledby="incident-h"><h2 id="incident-h">\u2715 '
            f'{e(incident["title"])}</h2><p class="muted">{affects(incident["components"])} '
            f"Started {e(incident['started_at'] or '')}.</p>{timeline(incident['timeline'])}</section>"
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


def affects(components: Sequence[str]) -> str:
    return f"Affects: {e(', '.join(components))}." if components else "Affects: every component."


def timeline(entries: Sequence[Mapping[str, Any]]) -> str:
    if not entries:
        return ""
    items = "".join(f"<li><time>{e(x['at'] or '')}</time> {e(x['text'])}</li>" for x in entries)
    return f'<ol class="timeline">{items}</ol>'


def scheduled(windows: Sequence[Mapping[str, Any]]) -> str:
    if not windows:
        return ""
    items = "".join(
        f"<li><time>{e(w['start'] or '')}</time> to <time>{e(w['end'] or '')}</time>: {e(w['message'])} "
        f'<span class="muted">({affects(w["components"])})</span></li>'
        for w in windows
    )
    heading = '<h2 id="sched-h">Scheduled maintenance</h2>'
    return f'<section aria-labelledby="sched-h">{heading}<ul>{items}</ul></section>'


def component(c: Mapping[str, Any], index: int, status: Mapping[str, Any]) -> str:
    details = [f"since {e(c['since'])}" if c.get("since") else ""]
    if c.get("reason"):
        details.append(f"reason: {e(c['reason'])}")
    if c.get("latency_ms") is not None:
        details.append(f"last response {int(c['latency_ms'])} ms")
    uptime = "".join(
        f"<div><dt>{label}</dt><dd>{pct(c['uptime'].get(key))}</dd></div>"
        for key, label in (("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"))
    )
    return (
        f'<article class="card" data-c="{index}" data-name="{e(c["name"])}" aria-labelledby="c{index}-h">'
        f'<h3 id="c{index}-h"><span>{e(c["name"])}</span> {state_badge(c["status"])}</h3>'
        f'<p class="muted">{" &middot; ".join(d for d in details if d)}</p>'
        f'<dl class="uptime" aria-label="Uptime">{uptime}</dl>'
        f"{bars(c['days'], index)}{chart(c['days'], index, c['name'])}"
        f"{history(c['name'], status.get('incidents', []))}</article>"
    )


def pct(value: Optional[float]) -> str:
    if value is None:
        return "no data"
    return f"{value:.2f}%" if value < 100 else "100%"


def bar_text(day: Mapping[str, Any]) -> tuple[str, str]:
    """(css class, the figures as words) for one daily bar."""
    if not day.get("data"):
        return "b-none", f"{day['date']}: no data"
    figures = (
        f"{day['date']}: {pct(day['uptime'])} up; {day['up']} min up, {day['down']} min down, "
        f"{day['maintenance']} min maintenance, {day['unknown']} min not checked"
    )
    if day.get("p50") is not None:
        figures += f"; response p50 \u2264 {day['p50']} ms, p95 \u2264 {day['p95']} ms"
    if day.get("reasons"):
        figures += f"; failures: {', '.join(day['reasons'])}"
    if day["down"]:
        kind = "b-down" if (day["uptime"] or 0) < 99 else "b-partial"
    elif day["up"]:
        kind = "b-up"
    elif day["maintenance"]:
        kind = "b-maint"
    else:
        kind = "b-unknown"
    return kind, figures


def bars(days: Sequence[Mapping[str, Any]], index: int) -> str:
    items = []
    for day in days:
        kind, figures = bar_text(day)
        words = e(figures)
        items.append(f'<li class="{kind}" title="{words}"><span class="vh">{words}</span></li>')
    label = f"Daily uptime, last {len(days)} days, oldest first"
    return f'<ol class="bars" aria-label="{label}">{"".join(items)}</ol>'


def chart(days: Sequence[Mapping[str, Any]], index: int, name: str) -> str:
    """Daily p50 and p95 as two polylines in inline SVG, with a text summary for screen readers."""
    points = [(i, d.get("p50"), d.get("p95")) for i, d in enumerate(days) if d.get("p50") is not None]
    caption = f"Response time of {name}, last {len(days)} days (daily p50 solid, p95 dashed, ms)"
    if not points:
        return f'<p class="muted">{e(caption)}: no data yet.</p>'
    top = max(p95 for _, _, p95 in points) or 1
    step = CHART_W / max(1, len(days) - 1)

    def line(which: int) -> str:
        return " ".join(
            f"{p[0] * step:.1f},{CHART_H - 12 - p[which] / top * (CHART_H - 24):.1f}" for p in points
        )

    p50s, p95s = [p[1] for p in points], [p[2] for p in points]
    summary = (
        f"p50 from {min(p50s)} to {max(p50s)} ms, p95 from {min(p95s)} to {max(p95s)} ms, "
        f"over {len(points)} days with data."
    )
    return (
        f'<figure><svg viewBox="0 0 {CHART_W} {CHART_H}" role="img"'
        f' aria-labelledby="c{index}-ct c{index}-cd">'
        f'<title id="c{index}-ct">{e(caption)}</title><desc id="c{index}-cd">{e(summary)}</desc>'
        f'<line class="axis" x1="0" y1="{CHART_H - 12}" x2="{CHART_W}" y2="{CHART_H - 12}"/>'
        f'<text x="2" y="10">{top} ms</text><text x="2" y="{CHART_H - 1}">{e(days[0]["date"])}</text>'
        f'<text x="{CHART_W - 2}" y="{CHART_H - 1}" text-anchor="end">{e(days[-1]["date"])}</text>'
        f'<polyline class="p95" fill="none" stroke-width="1.5" points="{line(2)}"/>'
        f'<polyline class="p50" fill="none" stroke-width="2" points="{line(1)}"/></svg>'
        f"<figcaption>{e(caption)}: {e(summary)}</figcaption></figure>"
    )


def history(name: str, incidents: Sequence[Mapping[str, Any]]) -> str:
    mine = [i for i in incidents if not i["components"] or name in i["components"]]
    if not mine:
        return '<p class="muted">No incidents in the last 90 days.</p>'
    items = "".join(
        f"<li><strong>{e(i['title'])}</strong> <time>{e(i['started_at'] or '')}</time> to "
        f"<time>{e(i['resolved_at'] or 'ongoing')}</time>{timeline(i['timeline'])}</li>"
        for i in mine
    )
    return f"<details><summary>Incident history ({len(mine)})</summary><ul>{items}</ul></details>"
