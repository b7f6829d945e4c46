"""A status.json with 90 days of history, built through the real pipeline (no AWS)."""

from __future__ import annotations

import dataclasses
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


# How much goes wrong in 90 days of a fleet: (share of days with an outage, its longest minutes,
# past incidents shown). Busy is a bad quarter: an outage on two days in five, up to 4 hours.
LEVELS = {"calm": (0.02, 15, 2), "moderate": (0.15, 90, 10), "busy": (0.4, 240, 20)}
REASONS = ("timeout", "status 503", "connection refused", "dns", "tls")


def fleet_history(names: list[str], level: str, seed: int = 11) -> dict[str, dict[str, h.DayRollup]]:
    """90 days of `names` at `level`: every minute recorded, outages and latency varying by day."""
    share, longest, _ = LEVELS[level]
    rng = random.Random(seed)
    history: dict[str, dict[str, h.DayRollup]] = {}
    for i, day in enumerate(h.last_days(NOW, 90)):
        elapsed = h.elapsed_minutes(day, NOW)
        for name in names:
            rollup = h.DayRollup(day)
            down = rng.randint(1, longest) if rng.random() < share else 0
            for hour in range(24):
                minutes = max(0, min(60, elapsed - hour * 60))
                rollup.up += minutes
                rollup.hours[hour] = [minutes, 0, 0]
            rollup.up -= down
            rollup.down = down
            if down:
                rollup.hours[3] = [60 - min(down, 60), min(down, 60), 0]
                for reason in rng.sample(REASONS, rng.randint(1, 2)):
                    rollup.reasons[reason] = rng.randint(1, down)
            for _ in range(40):
                rollup.add_latency(rng.lognormvariate(4.0 + (i % 20) / 25 + rng.random() / 3, 0.6))
            history.setdefault(day, {})[name] = rollup
    return history


def fleet_status(level: str, monitors_count: int = 50) -> dict:
    """status.json of `monitors_count` monitors (one component each) over 90 days at `level`."""
    mons = tuple(
        Monitor(f"service-{i:02d}", f"http://127.0.0.1/{i}/healthz", component=f"Service {i:02d}")
        for i in range(monitors_count)
    )
    states = {m.name: MonitorState(UP, since=NOW - 7200) for m in mons}
    results = {m.name: ProbeResult(m.name, True, 80.0, None, 1, NOW) for m in mons}
    rng = random.Random(5)
    past = [
        {
            "id": f"{n:020x}",
            "title": f"Service {c:02d} disrupted",
            "components": [f"Service {c:02d}"],
            "started_at": NOW - (n + 1) * 4 * 86400,
            "resolved_at": NOW - (n + 1) * 4 * 86400 + 1800,
            "timeline": [
                {"at": NOW - (n + 1) * 4 * 86400 + s * 60, "text": words}
                for s, words in enumerate(
                    ("Problem detected by monitoring", "Restart sent", "Recovery verified", "Recovered")
                )
            ],
        }
        for n in range(LEVELS[level][2])
        for c in [rng.randrange(monitors_count)]
    ]
    history = fleet_history([m.name for m in mons], level)
    return build_status(mons, states, results, history, NOW, Extras(incidents=past))


def page_status(maintenance_everywhere: bool = False) -> dict:
    """A site as people meet it: grouped components, an incident in progress, an auto-healed one
    and one that needed engineers, maintenance now (one component, or every one), past and
    announced."""
    mons = (
        Monitor("web", "http://127.0.0.1/healthz", component="Website", group="Frontend"),
        Monitor("cdn", "http://127.0.0.1/cdn", component="CDN", group="Frontend"),
        Monitor("api", "http://127.0.0.1/api/healthz", component="API", group="Backend"),
        Monitor("jobs", "http://127.0.0.1/jobs", component="Jobs", group="Backend"),
        Monitor("db", "http://127.0.0.1/db", component="Database", group="Backend"),
        Monitor("docs", "http://127.0.0.1/docs", component="Docs"),
    )
    states = {m.name: MonitorState(UP, since=NOW - 86400) for m in mons}
    states["api"] = MonitorState(DOWN, since=NOW - 600, reason="status 503")
    results = {m.name: ProbeResult(m.name, states[m.name].status == UP, 87.4, None, 1, NOW) for m in mons}

    def story(start: float, *steps: str) -> list[dict]:
        return [{"at": start + 60 * n, "text": words} for n, words in enumerate(steps)]

    healed = NOW - 3 * 86400
    alerted = NOW - 20 * 86400
    active = {"message": "Database upgrade", "start": NOW - 1800, "end": NOW + 1800}
    extras = Extras(
        incident={
            "id": "a1",
            "title": "API disrupted",
            "components": ["API"],
            "started_at": NOW - 600,
            "timeline": story(NOW - 600, "Problem detected by monitoring", "Restart sent"),
        },
        incidents=[
            {
                "id": "b2",
                "title": "Website disrupted",
                "components": ["Website"],
                "started_at": healed,
                "resolved_at": healed + 180,
                "timeline": story(
                    healed, "Problem detected by monitoring", "Restart sent", "Recovery verified", "Recovered"
                ),
            },
            {
                "id": "c3",
                "title": "Jobs disrupted",
                "components": ["Jobs"],
                "started_at": alerted,
                "resolved_at": alerted + 5400,
                "timeline": story(
                    alerted,
                    "Problem detected by monitoring",
                    "Repair command sent",
                    "Still failing after the action; trying the next one",
                    "Engineers alerted",
                    "Recovered",
                ),
            },
        ],
        maintenance=MaintenanceView(
            active=({**active, "components": [] if maintenance_everywhere else ["Database"]},),
            scheduled=(
                {"message": "CDN switch", "start": NOW + 86400, "end": NOW + 90000, "components": ["CDN"]},
            ),
        ),
        maintenance_log=(
            {
                "message": "Kernel updates",
                "start": NOW - 9 * 86400,
                "end": NOW - 9 * 86400 + 3600,
                "ended": NOW - 9 * 86400 + 2400,
                "components": [],
            },
        ),
    )
    if maintenance_everywhere:  # a planned window over everything, nothing failing
        states = {m.name: MonitorState(UP, since=NOW - 86400) for m in mons}
        extras = dataclasses.replace(extras, incident=None)
    return build_status(mons, states, results, ninety_days([m.name for m in mons]), NOW, extras)
