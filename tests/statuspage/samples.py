"""A status.json with 90 days of history, built through the real pipeline (no AWS)."""

from __future__ import annotations

import random

from chalicelib.config.model import MaintenanceConfig, MaintenanceWindow, Monitor
from chalicelib.probe.result import ProbeResult
from chalicelib.state.thresholds import DOWN, UP, MonitorState
from chalicelib.statuspage import history as h
from chalicelib.statuspage.document import Extras, MaintenanceView, build_status

NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z
PAYLOAD = "<img src=x onerror=alert(1)>"
SCRIPT_PAYLOAD = "</script><script>window.__pwned=1</script>"


def monitors(hostile: bool = False) -> tuple[Monitor, ...]:
    api = PAYLOAD if hostile else "API"
    return (
        Monitor("web", "http://127.0.0.1/healthz", component="Website"),
        Monitor("api", "http://127.0.0.1/api/healthz", component=api),
        Monitor("api-ws", "ws://127.0.0.1/ws", component=api, kind="websocket"),
    )


def ninety_days(names: list[str], seed: int = 7) -> dict[str, dict[str, h.DayRollup]]:
    """Plausible days: mostly up, a few outages, one day of maintenance, a gap with no data."""
    rng = random.Random(seed)
    history: dict[str, dict[str, h.DayRollup]] = {}
    days = h.last_days(NOW, 90)
    for i, day in enumerate(days):
        if 40 <= i < 43:
            continue  # the probe was not deployed then: no data
        elapsed = h.elapsed_minutes(day, NOW)
        for name in names:
            rollup = h.DayRollup(day)
            down = rng.choice([0] * 12 + [3, 15, 90]) if i != 60 else 0
            maintenance = 120 if i == 60 else 0
            gap = rng.choice([0, 0, 0, 5])
            for minute in range(max(0, elapsed - gap)):
                hour = minute // 60
                if minute < maintenance:
                    rollup.add_minute(h.MAINTENANCE, hour)
                elif minute < maintenance + down:
                    rollup.add_minute(h.DOWN, hour, rng.choice(["timeout", "status 503"]))
                else:
                    rollup.add_minute(h.UP, hour)
            for _ in range(60):
                rollup.add_latency(rng.lognormvariate(4.5 + (i % 30) / 60, 0.5))
            history.setdefault(day, {})[name] = rollup
    return history


def status(hostile: bool = False) -> dict:
    mons = monitors(hostile)
    states = {
        "web": MonitorState(UP, since=NOW - 86400),
        "api": MonitorState(DOWN, since=NOW - 600, reason="dns: host not found: db.internal.example"),
        "api-ws": MonitorState(UP, since=NOW - 3600),
    }
    results = {
        m.name: ProbeResult(
            m.name, ok=states[m.name].status == UP, latency_ms=87.4, reason=None, attempts=1, checked_at=NOW
        )
        for m in mons
    }
    text = PAYLOAD if hostile else "Restart sent to 1 instance"
    message = SCRIPT_PAYLOAD if hostile else "Database upgrade"
    extras = Extras(
        incident={
            "title": PAYLOAD if hostile else "API unreachable",
            "components": [mons[1].component],
            "started_at": NOW - 600,
            "timeline": [{"at": NOW - 590, "text": text}, {"at": NOW - 500, "text": "Verified: still down"}],
        },
        incidents=[
            {
                "title": "Website slow",
                "components": ["Website"],
                "started_at": NOW - 5 * 86400,
                "resolved_at": NOW - 5 * 86400 + 900,
                "timeline": [{"at": NOW - 5 * 86400 + 60, "text": "Traffic moved to green"}],
            }
        ],
        deployments=[{"name": "web", "state": "canary", "detail": "10% to green"}],
        maintenance=MaintenanceView(
            scheduled=(
                {"message": message, "start": NOW + 86400, "end": NOW + 90000, "components": ["Website"]},
            )
        ),
    )
    return build_status(mons, states, results, ninety_days([m.name for m in mons]), NOW, extras)


def maintenance_config(app_url: str | None = None, paths=("/healthz", "/api/healthz")) -> MaintenanceConfig:
    return MaintenanceConfig(
        health_paths=tuple(paths),
        app_url=app_url,
        windows=(MaintenanceWindow(duration=3600, message="weekly", cron="0 3 * * SUN"),),
    )
