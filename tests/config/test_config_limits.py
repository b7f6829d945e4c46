"""Values the config used to accept but AWS or the probe cannot honour: each is refused at load,
by key path, with the limit named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from chalicelib.config import ConfigError, parse_config
from chalicelib.config.loader import MAX_MONITOR_TIMEOUT, PROBE_LAMBDA_TIMEOUT
from chalicelib.maintenance.listener import FIXED_RESPONSE_LIMIT, fixed_page
from chalicelib.monitoring.probe_run import RESERVE_SECONDS, TICK_SECONDS

REPO = Path(__file__).resolve().parents[2]
SETTINGS = {"state_table": "t", "alarm_topic": "a", "notify_topic": "n", "status_bucket": "b"}
WEB = {"name": "web", "url": "http://h/healthz"}
SECRET = "Bearer s3cr3t-t0ken-value"


def config(**sections: object) -> str:
    return yaml.safe_dump({"settings": SETTINGS, **sections})


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ={})
    return caught.value.errors


# --- all_at_once takes no steps ----------------------------------------------------------------


def deployment(**fields: object) -> str:
    web = {"listener": {"load_balancer": "alb", "port": 443}, "blue": "b", "green": "g", **fields}
    return config(deployments={"web": web})


def test_all_at_once_with_steps_is_refused_not_ignored() -> None:
    assert errors_of(deployment(strategy="all_at_once", steps=[10, 50, 100])) == [
        "deployments.web.steps: all_at_once moves all traffic in one step and takes no steps, "
        "got [10, 50, 100]: remove steps or choose canary or linear"
    ]


@pytest.mark.parametrize("fields", [{"strategy": "all_at_once"}, {"strategy": "all_at_once", "steps": [100]}])
def test_all_at_once_without_steps_or_with_its_one_step_loads(fields: dict) -> None:
    assert parse_config(deployment(**fields), environ={}).deployments["web"].strategy == "all_at_once"


# --- a monitor's timeout fits the probe --------------------------------------------------------


def test_a_twenty_minute_monitor_timeout_names_the_probes_limit() -> None:
    assert errors_of(config(monitors=[{**WEB, "timeout": "20m"}])) == [
        "monitors[0].timeout: expected a duration of at most 55s (an attempt must fit in a 1m probe "
        "cycle; the probe Lambda's timeout is 75s), got '20m'"
    ]
    assert parse_config(config(monitors=[{**WEB, "timeout": "55s"}]), environ={}).monitors[0].timeout == 55.0


def test_the_cap_fits_the_probe_cycle_and_the_probe_timeout_of_every_stage() -> None:
    assert MAX_MONITOR_TIMEOUT <= TICK_SECONDS - RESERVE_SECONDS
    stages = json.loads((REPO / ".chalice" / "config.json").read_text())["stages"]
    timeouts = {name: stage["lambda_functions"]["probe"]["lambda_timeout"] for name, stage in stages.items()}
    assert set(timeouts.values()) == {PROBE_LAMBDA_TIMEOUT}, timeouts  # what the message says


# --- headers carry no control characters -------------------------------------------------------


@pytest.mark.parametrize("bad", ["\r\nX-Injected: 1", "\n", "\x00", "\x7f", "\u2028"])
def test_a_control_character_in_a_header_value_is_named_without_the_secret(bad: str) -> None:
    value = SECRET + bad
    [error] = errors_of(config(monitors=[{**WEB, "headers": {"Authorization": value}}]))
    assert error == (
        "monitors[0].headers.Authorization: expected a header value without control characters, "
        f"got {bad[0]!r} at position {len(SECRET)}"
    )
    assert "s3cr3t" not in error


def test_a_header_name_that_is_not_a_token_is_refused() -> None:
    errors = errors_of(config(monitors=[{**WEB, "headers": {"X-A\r\nX-B": "1", "Bad Name": "2"}}]))
    expected = "monitors[0].headers: expected header names of letters, digits and !#$%&'*+-.^_`|~, got "
    assert errors == [expected + "'Bad Name'", expected + "'X-A\\r\\nX-B'"]


def test_a_tab_in_a_header_value_is_allowed() -> None:
    headers = {"X-Trace": "a\tb", "X-Token": SECRET}
    assert (
        parse_config(config(monitors=[{**WEB, "headers": headers}]), environ={}).monitors[0].headers
        == headers
    )


# --- cron is five fields -----------------------------------------------------------------------

SIX_FIELDS = "0 0 3 * * *"  # cronsim reads a sixth field as seconds: every day at 03:00:00
CRON_ERROR = (
    "expected a cron expression of 5 fields (minute hour day-of-month month day-of-week) like "
    "'0 2 * * SUN', got 6 fields in '0 0 3 * * *': neither seconds nor a year are taken"
)


def test_a_six_field_cron_is_refused_everywhere_a_cron_is_read() -> None:
    runbook = {
        "targets": {"tag": {"app": "web"}},
        "steps": [{"escalate": {}}],
        "schedule": {"cron": SIX_FIELDS},
    }
    errors = errors_of(
        yaml.safe_dump(
            {
                "settings": {**SETTINGS, "digest": {"cron": SIX_FIELDS}},
                "monitors": [WEB],
                "runbooks": {"nightly": runbook},
                "maintenance": {"windows": [{"cron": SIX_FIELDS, "duration": "1h", "message": "weekly"}]},
            }
        )
    )
    assert errors == [
        f"settings.digest.cron: {CRON_ERROR}",
        f"runbooks.nightly.schedule.cron: {CRON_ERROR}",
        f"maintenance.windows[0].cron: {CRON_ERROR}",
    ]


def test_a_five_field_cron_loads() -> None:
    window = {"cron": "0 3 * * SUN", "duration": "1h", "message": "weekly"}
    assert parse_config(config(maintenance={"windows": [window]}), environ={}).maintenance.windows[0].cron


# --- a fixed-response maintenance page fits ALB's 1,024 bytes ----------------------------------


def listener(form: str, page_url: str) -> str:
    section = {"load_balancer": "alb", "port": 443, "form": form, "page_url": page_url}
    return config(maintenance={"listener": section})


LONG_URL = "https://status.example.com/" + "m" * 300 + ".html"


def test_a_fixed_response_page_over_the_alb_limit_is_refused_at_load() -> None:
    size = len(fixed_page(LONG_URL, "").encode())
    assert size > FIXED_RESPONSE_LIMIT
    assert errors_of(listener("fixed-response", LONG_URL)) == [
        f"maintenance.listener.page_url: too long for form fixed-response: the page that loads it would "
        f"be {size} bytes, over ALB's limit of 1,024 bytes (use a shorter URL or form: redirect)"
    ]


@pytest.mark.parametrize(
    ("form", "url"),
    [("redirect", LONG_URL), ("fixed-response", "https://status.example.com/maintenance.html")],
)
def test_a_redirect_or_a_short_page_loads(form: str, url: str) -> None:
    assert parse_config(listener(form, url), environ={}).maintenance.listener.page_url == url
