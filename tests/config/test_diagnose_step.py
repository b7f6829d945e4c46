"""`diagnose: true` on restart and the `diagnose` step: what they read, and every mistake named
by its key, including a diagnosis with nowhere private to go."""

from __future__ import annotations

import pytest

from chalicelib.config import ConfigError, parse_config
from sandbox.provision import document_properties

PRIVATE = (
    "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b, diagnostics_bucket: d}\n"
)
NO_BUCKET = "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}\n"
PUBLIC = (
    "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b, diagnostics_bucket: b}\n"
)
RESTART = "{restart: {service: web, user: app, diagnose: %s}}"
DIAGNOSE = "{diagnose: {service: web, user: app%s}}"


def config_with(step: str, settings: str = PRIVATE) -> str:
    return settings + f"runbooks:\n  r:\n    targets: {{tag: {{app: web}}}}\n    steps: [{step}]\n"


def params_of(step: str) -> dict:
    return dict(parse_config(config_with(step)).runbooks["r"].steps[0].params)


def errors_of(step: str, settings: str = PRIVATE) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_with(step, settings))
    return caught.value.errors


@pytest.mark.parametrize(
    ("value", "options"),
    [
        ("true", {"timeout": 20.0, "lines": 200}),
        ("{timeout: 5s}", {"timeout": 5.0, "lines": 200}),
        ("{lines: 50, timeout: 500ms}", {"timeout": 0.5, "lines": 50}),
    ],
)
def test_restart_reads_its_diagnose_option(value: str, options: dict) -> None:
    assert params_of(RESTART % value)["diagnose"] == options


def test_without_the_option_or_with_false_a_restart_does_not_diagnose() -> None:
    assert "diagnose" not in params_of("{restart: {service: web, user: app}}")
    assert "diagnose" not in params_of(RESTART % "false")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (
            "yes please",
            "runbooks.r.steps[0].restart.diagnose: expected true, false or {timeout: 20s, lines: 200},"
            " got 'yes please'",
        ),
        (
            "1",
            "runbooks.r.steps[0].restart.diagnose: expected true, false or {timeout: 20s, lines: 200}, got 1",
        ),
        (
            "{timeout: 1m}",
            "runbooks.r.steps[0].restart.diagnose.timeout: expected a duration of at most 20s"
            " (the diagnose document stops at 20s), got '1m'",
        ),
        ("{lines: 0}", "runbooks.r.steps[0].restart.diagnose.lines: expected a whole number >= 1, got 0"),
        (
            "{lines: 10000}",
            "runbooks.r.steps[0].restart.diagnose.lines: expected a whole number <= 9999, got 10000",
        ),
        ("{wait: 5s}", "runbooks.r.steps[0].restart.diagnose.wait: unknown key (allowed: lines, timeout)"),
    ],
)
def test_a_wrong_diagnose_option_is_named_by_its_key(value: str, error: str) -> None:
    assert errors_of(RESTART % value) == [error]


def test_a_diagnosis_needs_a_private_bucket_and_never_the_status_bucket() -> None:
    assert errors_of(RESTART % "true", NO_BUCKET) == [
        "runbooks.r.steps[0].restart.diagnose: a diagnosis needs settings.diagnostics_bucket, the stage's"
        " private bucket (write ${AUTOHEAL_DIAGNOSTICS_BUCKET})"
    ]
    assert errors_of(DIAGNOSE % "", PUBLIC) == [
        "settings.diagnostics_bucket: must not be the public status bucket ('b')"
    ]
    assert parse_config(config_with("{restart: {service: web, user: app}}", PUBLIC))  # unused: no matter


def test_the_diagnose_step_reads_the_service_as_restart_does_and_its_own_options() -> None:
    assert params_of(DIAGNOSE % ", lines: 20") == {
        "service": "web",
        "manager": "pm2",
        "user": "app",
        "timeout": 20.0,
        "lines": 20,
    }
    errors = errors_of("{diagnose: {service: 'web; reboot', manager: pm2}}")
    assert [e.split(":")[0] for e in errors] == [
        "runbooks.r.steps[0].diagnose.service",
        "runbooks.r.steps[0].diagnose.user",
    ]


def test_the_options_stay_within_what_the_shipped_document_accepts() -> None:
    content = document_properties("DiagnoseDocument")["Content"]
    assert content["mainSteps"][0]["inputs"]["timeoutSeconds"] == "20"  # the longest wait allowed
    assert content["parameters"]["lines"]["default"] == str(params_of(RESTART % "true")["diagnose"]["lines"])
    assert content["parameters"]["lines"]["allowedPattern"] == "^[1-9][0-9]{0,3}$"  # 1-9999
