"""maintenance.html: self-contained (inline CSS and JS, no external asset), rendered at publish time.

The page shows what is down and since when, the message and the last update, then keeps
checking by itself: every 5 s (plus up to 1 s of jitter, so a crowd of open tabs does not
arrive in step) it fetches status.json and each of the app's health endpoints in parallel,
all with `cache: "no-store"` and a 4 s timeout each. It sends the user back to the app, with
`?v=<timestamp>` so the newest assets load, only when every health endpoint answers 2xx and
status.json (when readable) announces no maintenance in progress. status.json answering 404,
500 or nothing only leaves the last known text in place: the health endpoints decide.

Origins: on an S3 website or CloudFront distribution of its own, the page is another origin
than the app, so the browser lets its script read the app's health endpoints only when the app
answers them with CORS (`Access-Control-Allow-Origin: <the status site's origin>`, or `*`:
they carry nothing private). Without it the checks fail and the page stays; a redirect is never
taken as healthy either (`redirect: "manual"`), so a health path that is itself sent to this
page cannot bounce users back and forth. Served by CloudFront as the app's own 502/503/504
error page, the page is on the app's origin: leave `app_url` unset and no CORS is needed.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence
from urllib.parse import urljoin

from chalicelib.config.model import MaintenanceConfig
from chalicelib.statuspage.escape import html_text as e
from chalicelib.statuspage.escape import script_json
from chalicelib.statuspage.parts import stamp
from chalicelib.statuspage.templates import load_templates, load_text

POLL_MS = 5000
JITTER_MS = 1000
TIMEOUT_MS = 4000
DEFAULT_MESSAGE = "We are working on it. This page takes you back as soon as the service answers again."

LABELS = {"DOWN": "down", "MAINTENANCE": "in maintenance", "UNKNOWN": "not checked yet"}


STYLE, SCRIPT, PAGE = load_templates("maintenance")
TIMES = load_text("times.js")
CHECKING = "<li>Checking\u2026</li>"


def health_urls(config: MaintenanceConfig) -> list[str]:
    """Absolute on the app when `app_url` is set; else paths on the page's own origin."""
    if config.app_url:
        return [urljoin(config.app_url, path) for path in config.health_paths]
    return list(config.health_paths)


def render_maintenance(
    status: Mapping[str, Any],
    config: MaintenanceConfig,
    title: str = "Back soon",
    status_url: str = "status.json",
    poll_ms: int = POLL_MS,
    jitter_ms: int = JITTER_MS,
    timeout_ms: int = TIMEOUT_MS,
) -> str:
    active = status["maintenance"]["active"]
    message = active[0]["message"] if active else DEFAULT_MESSAGE
    window = (
        f"Started {stamp(active[0]['start'])}; expected to end by {stamp(active[0]['end'])}."
        if active and active[0].get("start") and active[0].get("end")
        else ""
    )
    settings = {
        "status": status_url,
        "health": health_urls(config),
        "app": config.app_url,
        "interval": poll_ms,
        "jitter": jitter_ms,
        "timeout": timeout_ms,
        "labels": LABELS,
    }
    return PAGE.substitute(
        title=e(title),
        style=STYLE,
        message=e(message),
        window=window,
        down=affected(status["components"]),
        updated=e(status["updated_at"]),
        status_page=e(urljoin(status_url, "index.html")),
        config=script_json(settings),
        script=SCRIPT + TIMES,
    )


def affected(components: Sequence[Mapping[str, Any]]) -> str:
    """Only what is not operational; when maintenance covers every component, one collapsed
    line says so (the list is there to open)."""
    items = "".join(
        f'<li><span class="down">{e(c["name"])}</span>: {LABELS.get(c["status"], "down")}'
        f"{since(c.get('since'))}</li>"
        for c in components
        if c["status"] != "UP"
    )
    listed = f"<ul>{items or CHECKING}</ul>"
    if components and all(c["status"] == "MAINTENANCE" for c in components):
        return f"<details><summary>Every component ({len(components)})</summary>{listed}</details>"
    return listed


def since(value: Optional[str]) -> str:
    return f" since {stamp(value)}" if value else ""
