"""Routing: the probe's own events by monitor, every other alarm by name glob."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.alarms import AlarmEvent, route
from chalicelib.config.model import AlarmRoute, Config, Monitor, Settings

SETTINGS = Settings(state_table="t", alarm_topic="a", notify_topic="n", status_bucket="b")
CONFIG = Config(
    settings=SETTINGS,
    monitors=(
        Monitor(name="web", url="https://app.example.com/healthz", runbook="restart-web"),
        Monitor(name="api", url="https://app.example.com/api/healthz"),
    ),
    alarms=(
        AlarmRoute(match="web-*-memory-high", runbook="restart-web"),
        AlarmRoute(match="web-*", runbook="page-someone"),
        AlarmRoute(match="db-[0-9]-cpu", runbook="restart-db"),
    ),
)
BASE = AlarmEvent(
    name="web-blue-memory-high", state="ALARM", old_state="OK", reason="r",
    changed_at="2024-05-01T21:03:04.512+0000", kind="metric", namespace="CWAgent",
    metric="mem_used_percent", monitor=None, region=None, account=None, message_id="m-1",
)  # fmt: skip


def probe(monitor):
    return replace(BASE, name=f"autoheal-probe-{monitor}", kind="probe", namespace="Autoheal",
                   metric="Availability", monitor=monitor)  # fmt: skip


@pytest.mark.parametrize(
    "event,runbook",
    [
        (probe("web"), "restart-web"),
        (probe("api"), None),  # monitor without a runbook
        (probe("ghost"), None),  # unknown monitor: never falls back to name globs
        (BASE, "restart-web"),
        (replace(BASE, name="web-green-memory-high"), "restart-web"),
        (replace(BASE, name="web-5xx-rate-high", kind="metric_math"), "page-someone"),
        (replace(BASE, name="web-service-degraded", kind="composite"), "page-someone"),
        (replace(BASE, name="WEB-blue-memory-high"), None),  # globs are case-sensitive
        (replace(BASE, name="db-1-cpu"), "restart-db"),
        (replace(BASE, name="db-12-cpu"), None),
        (replace(BASE, name="other"), None),
        # A Monitor dimension does not make an alarm the probe's own: routed by name like any other
        (replace(BASE, name="other", monitor="web"), None),
        (replace(BASE, name="web-x", monitor="api"), "page-someone"),
        (replace(BASE, name="web-x", monitor="ghost"), "page-someone"),
    ],
)
def test_route(event, runbook):
    assert route(event, CONFIG) == runbook


def test_first_matching_route_wins():
    config = replace(CONFIG, alarms=(AlarmRoute("*", "first"), AlarmRoute("web-*", "second")))
    assert route(BASE, config) == "first"


def test_no_routes():
    assert route(BASE, Config(settings=SETTINGS)) is None
