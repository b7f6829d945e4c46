"""The messages a person meets first: each names the key, the lines or the value, and what to write."""

from __future__ import annotations

import pytest

from chalicelib.config import ConfigError, parse_config

SETTINGS = "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}\n"


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ={})
    return caught.value.errors


# --- duplicate keys ----------------------------------------------------------------------------


def test_a_key_written_twice_names_its_path_and_both_lines() -> None:
    text = """settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}
monitors:
  - name: web
    url: http://h/healthz
    timeout: 5s
    retries: 1
    timeout: 50s
"""
    assert errors_of(text) == ["monitors[0].timeout: duplicate key (lines 5 and 7)"]


def test_a_second_settings_section_is_named_not_reported_as_missing_keys() -> None:
    text = """settings:
  state_table: t
  alarm_topic: a
monitors: []
settings:
  notify_topic: n
  status_bucket: b
"""
    assert errors_of(text) == ["settings: duplicate key (lines 1 and 5)"]


def test_every_duplicate_is_listed_at_once_at_any_depth() -> None:
    text = (
        SETTINGS
        + """runbooks:
  r:
    targets: {tag: {app: web, app: api}}
    steps: [{escalate: {}}]
    budget: {max_runs: 3, max_runs: 4}
"""
    )
    assert errors_of(text) == [
        "runbooks.r.targets.tag.app: duplicate key (lines 4 and 4)",
        "runbooks.r.budget.max_runs: duplicate key (lines 6 and 6)",
    ]


def test_merge_keys_may_override_without_being_duplicates() -> None:
    text = (
        SETTINGS
        + """defaults: &defaults {timeout: 2s, retries: 0}
monitors:
  - <<: *defaults
    name: web
    url: http://h/healthz
    timeout: 3s
"""
    )
    errors = errors_of(text)  # only the unknown top-level key `defaults`
    assert errors == [
        "defaults: unknown key (allowed: alarms, deployments, maintenance, monitors, runbooks, settings)"
    ]


# --- a misspelt step kind ----------------------------------------------------------------------


def runbook_steps(steps: str) -> str:
    return SETTINGS + f"runbooks:\n  r:\n    targets: {{tag: {{app: web}}}}\n    steps: {steps}\n"


def test_a_misspelt_step_kind_is_named_with_the_known_ones_and_the_closest() -> None:
    assert errors_of(runbook_steps("[{reboot: {}}, {escalte: {}}]")) == [
        "runbooks.r.steps[1]: unknown step kind 'escalte' (known: diagnose, escalate, maintenance, reboot, "
        "replace, restart, run, traffic, verify); did you mean 'escalate'?"
    ]


def test_a_kind_nothing_resembles_gets_no_guess() -> None:
    [error] = errors_of(runbook_steps("[{page_oncall: {}}]"))
    assert error.startswith(
        "runbooks.r.steps[0]: unknown step kind 'page_oncall' (known: diagnose, escalate,"
    )
    assert "did you mean" not in error


def test_a_parameter_beside_its_kind_suggests_indenting_it() -> None:
    text = runbook_steps("\n      - restart:\n        service: web\n")
    [error] = errors_of(text)
    assert error == "runbooks.r.steps[0]: expected only 'restart' in this step, got also 'service' " + (
        "(indent it under restart?)"
    )


# --- a duration written as a number ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"), [("5", "5 (int)"), ("2.5", "2.5 (float)"), ("yes", "True (bool)")]
)
def test_a_duration_written_as_a_number_shows_the_value(value: str, shown: str) -> None:
    text = SETTINGS + f"monitors: [{{name: web, url: 'http://h/healthz', timeout: {value}}}]\n"
    assert errors_of(text) == [f'monitors[0].timeout: expected a duration like "5s", got {shown}']
