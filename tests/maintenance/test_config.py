"""The `maintenance:` section: defaults, windows, and every error named by key path."""

from __future__ import annotations

import pytest

from chalicelib.config import ConfigError, parse_config

BASE = """settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}
monitors: [{name: web, url: 'http://127.0.0.1/healthz', component: Website}]
"""


def test_defaults_poll_both_health_paths_on_the_pages_origin():
    config = parse_config(BASE)
    assert config.maintenance.health_paths == ("/healthz", "/api/healthz")
    assert config.maintenance.app_url is None and config.maintenance.windows == ()


def test_windows_read_local_times_and_cron():
    config = parse_config(
        BASE
        + """maintenance:
  pages: {app_url: 'https://app.example.com/', health_paths: [/up]}
  windows:
    - {start: '2025-03-30T02:30', duration: 2h, time_zone: Europe/Berlin, message: db, components: [Website]}
    - {cron: '0 3 * * SUN', duration: 30m, message: weekly}
"""
    )
    first, second = config.maintenance.windows
    assert first.start.isoformat() == "2025-03-30T02:30:00+01:00" and first.components == ("Website",)
    assert second.cron == "0 3 * * SUN" and second.duration == 1800 and second.time_zone == "UTC"


def test_every_bad_key_is_named_and_nothing_loads():
    with pytest.raises(ConfigError) as caught:
        parse_config(
            BASE
            + """maintenance:
  pages: {app_url: 'ftp://x', health_paths: [healthz], colour: red}
  windows:
    - {start: soon, duration: 2x, time_zone: Mars/Base, message: hi, components: [Nope]}
    - {cron: '99 3 * * *', duration: 30m, message: m}
    - {duration: 30m, message: m}
"""
        )
    errors = "\n".join(caught.value.errors)
    for expected in (
        "maintenance.pages.app_url: expected an http(s) URL",
        "maintenance.pages.health_paths: expected absolute paths",
        "maintenance.pages.colour: unknown key",
        "maintenance.windows[0].start: expected an ISO time",
        "maintenance.windows[0].duration: expected a duration",
        "maintenance.windows[0].time_zone: expected an IANA time zone",
        "maintenance.windows[0].components: no component named 'Nope'",
        "maintenance.windows[1].cron: expected a cron expression",
        "maintenance.windows[2]: expected exactly one of start",
    ):
        assert expected in errors


def test_the_listener_is_optional_and_every_bad_key_is_named():
    assert parse_config(BASE).maintenance.listener is None
    listener = parse_config(
        BASE + "maintenance:\n  listener: {load_balancer: web-alb, port: 443, form: fixed-response}\n"
    ).maintenance.listener
    assert (listener.load_balancer, listener.port, listener.form, listener.page_url) == (
        "web-alb",
        443,
        "fixed-response",
        None,
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(
            BASE + "maintenance:\n  listener: {port: 70000, form: html, page_url: 'ftp://x', colour: red}\n"
        )
    errors = "\n".join(caught.value.errors)
    for expected in (
        "maintenance.listener.load_balancer: ",
        "maintenance.listener.port: ",
        "maintenance.listener.form: expected one of redirect, fixed-response",
        "maintenance.listener.page_url: expected an http(s) URL",
        "maintenance.listener.colour: unknown key",
    ):
        assert expected in errors
