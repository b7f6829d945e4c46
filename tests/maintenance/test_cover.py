"""`covers` and `silences`: the one rule for what maintenance holds back (pure, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.config import parse_config
from chalicelib.maintenance.cover import components_of, covers, in_effect, silences
from chalicelib.maintenance.mode import ManualMaintenance

CONFIG = parse_config(
    """settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}
monitors:
  - {name: web, url: 'http://127.0.0.1/healthz', component: Website, runbook: restart}
  - {name: api, url: 'http://127.0.0.1/api/healthz', component: API}
runbooks:
  restart: {targets: {tag: {app: web}}, steps: [{escalate: {}}]}
alarms: [{match: 'web-*', runbook: restart}]
maintenance:
  windows:
    - {cron: '0 2 * * *', duration: 1h, time_zone: Europe/Berlin, message: nightly, components: [API]}
"""
)
WINDOWS = CONFIG.maintenance.windows


def at(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


def test_a_window_covers_its_components_only_while_it_lasts_in_its_own_zone():
    # 02:00 in Berlin is 00:00 UTC in summer and 01:00 UTC in winter.
    assert covers(WINDOWS, None, "API", at("2025-07-01T00:30:00+00:00"))
    assert not covers(WINDOWS, None, "API", at("2025-07-01T01:00:00+00:00"))  # the end is excluded
    assert covers(WINDOWS, None, "API", at("2025-01-15T01:59:59+00:00"))
    assert not covers(WINDOWS, None, "Website", at("2025-07-01T00:30:00+00:00"))
    assert not covers(WINDOWS, None, "", at("2025-07-01T00:30:00+00:00"))  # not every component


def test_the_switch_covers_until_it_expires_and_an_all_component_one_covers_unnamed_alarms():
    manual = ManualMaintenance("upgrade", since=100.0, until=200.0)
    assert covers((), manual, "Website", 150.0) and covers((), manual, "", 150.0)
    assert not covers((), manual, "Website", 200.0)
    scoped = ManualMaintenance("upgrade", since=100.0, until=200.0, components=("API",))
    assert covers((), scoped, "API", 150.0) and not covers((), scoped, "Website", 150.0)


def test_alarms_find_their_components_through_their_monitor_or_runbook():
    assert components_of(CONFIG, "web", None) == ["Website"]
    assert components_of(CONFIG, None, "restart") == ["Website"]
    assert components_of(CONFIG, None, None) == []
    scoped = ManualMaintenance("works", since=0.0, until=1e10, components=("Website",))
    assert silences(CONFIG, scoped, None, "restart", 10.0)  # a CloudWatch alarm on web's runbook
    assert not silences(CONFIG, scoped, "api", None, 10.0)
    assert not silences(CONFIG, scoped, None, None, 10.0)  # names nothing: only an all-component one


def test_in_effect_names_the_switch_first_then_a_window():
    night = at("2025-07-01T00:30:00+00:00")
    assert in_effect(WINDOWS, None, night) == "nightly"
    assert in_effect(WINDOWS, ManualMaintenance("by hand", 0.0, 1e10), night) == "by hand"
    assert in_effect(WINDOWS, None, at("2025-07-01T12:00:00+00:00")) is None
