"""The config fails fast, with every error by key path; good files load with their defaults."""

import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.config import ConfigError, load_config, parse_config
from chalicelib.config.durations import format_duration, parse_duration

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}\n"


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.errors


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("5s", 5), ("2m", 120), ("1h", 3600), ("14d", 1209600), ("1.5s", 1.5)],
)
def test_durations_read_as_people_write_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5", "5x", "", "-1s", 5, None, "s"])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_format_duration_is_the_shortest_exact_spelling():
    assert [format_duration(s) for s in (0.25, 5, 90, 120, 86400)] == ["250ms", "5s", "90s", "2m", "1d"]


def test_example_config_loads_with_every_section():
    config = load_config(str(ROOT / "chalicelib/configs/example.yaml"))
    web = config.monitor("web")
    assert (web.timeout, web.retries, web.attempts, web.failure_threshold) == (5.0, 2, 3, 3)
    assert web.expect.json == {"status": "ok"} and web.expect.certificate_valid_for == 14 * 86400
    assert config.runbooks["restart-web"].budget.per == 1800
    assert [s.action for s in config.runbooks["restart-web"].steps] == [
        "restart",
        "verify",
        "reboot",
        "verify",
        "escalate",
    ]
    assert config.deployments["web"].steps == (10, 50, 100)
    assert config.settings.probe_every == 20


def test_defaults_fill_what_is_left_out():
    config = parse_config(SETTINGS + "monitors: [{name: web, url: 'http://h/healthz'}]")
    web = config.monitor("web")
    assert (web.kind, web.timeout, web.retries, web.failure_threshold, web.success_threshold) == (
        "http",
        5.0,
        1,
        3,
        2,
    )
    assert web.component == "web" and web.expect.status == () and web.runbook is None
    assert config.settings.metrics_namespace == "Autoheal" and config.settings.probe_every is None


def test_every_error_is_listed_by_key_path():
    errors = errors_of(
        SETTINGS
        + """
monitors:
  - {name: a, url: 'http://h/', timeout: 5x}
  - {name: b, url: 'http://h/', retries: -1}
  - {name: c, url: 'http://h/', timeout: "5"}
"""
    )
    assert errors == [
        "monitors[0].timeout: expected a duration like \"5s\", got '5x'",
        "monitors[1].retries: expected a whole number >= 0, got -1",
        "monitors[2].timeout: expected a duration like \"5s\", got '5'",
    ]


def test_unknown_keys_are_errors_so_a_typo_cannot_disable_a_check():
    errors = errors_of(SETTINGS + "monitors: [{name: a, url: 'http://h/', expect: {stauts: [200]}}]")
    assert len(errors) == 1 and errors[0].startswith("monitors[0].expect.stauts: unknown key (allowed: ")


def test_missing_settings_and_wrong_types_are_named():
    errors = errors_of("settings: {alarm_topic: 3}\nmonitors: {name: x}\n")
    assert "settings.state_table: required" in errors
    assert "settings.alarm_topic: expected a string, got int 3" in errors
    assert "monitors: expected a list, got a mapping" in errors


def test_references_between_sections_must_resolve():
    errors = errors_of(
        SETTINGS
        + """
monitors: [{name: web, url: 'http://h/', runbook: nope}]
alarms: [{match: 'x-*', runbook: missing}]
runbooks:
  r:
    targets: {instance_ids: [i-0123456789abcdef0]}
    steps: [{verify: {monitors: [ghost]}}]
"""
    )
    assert errors == [
        "monitors[0].runbook: no runbook named 'nope'",
        "alarms[0].runbook: no runbook named 'missing'",
        "runbooks.r.steps[0].verify.monitors: no monitor named 'ghost'",
    ]


def test_restart_parameters_are_validated_against_the_document_pattern():
    errors = errors_of(
        SETTINGS
        + """
runbooks:
  r:
    targets: {tag: {app: web}}
    steps: [{restart: {service: "web; rm -rf /", manager: launchd}}, {reboot: {}, escalate: {}}]
"""
    )
    assert errors[0].startswith("runbooks.r.steps[0].restart.service: expected a service name")
    assert (
        errors[1]
        == "runbooks.r.steps[0].restart.manager: expected one of pm2, systemd, docker, got 'launchd'"
    )
    assert errors[2].startswith(
        "runbooks.r.steps[1]: expected one step kind per list item, got reboot, escalate"
    )


def test_urls_must_fit_their_kind():
    errors = errors_of(
        SETTINGS
        + """
monitors:
  - {name: a, url: 'ftp://h/'}
  - {name: b, kind: websocket, url: 'http://h/ws'}
  - {name: c, kind: tcp, url: 'tcp://db'}
  - {name: d, url: 'http://h/', expect: {certificate_valid_for: 14d}}
  - {name: e, kind: smtp, url: 'smtp://h'}
"""
    )
    assert [e.split(":")[0] for e in errors] == [
        "monitors[0].url",
        "monitors[1].url",
        "monitors[2].url",
        "monitors[3].expect",
        "monitors[4].kind",
    ]


def test_environment_references_are_filled_in_or_named_when_missing():
    text = SETTINGS + "monitors: [{name: a, url: 'http://${APP_HOST}/healthz'}]"
    assert (
        parse_config(text, environ={"APP_HOST": "10.0.0.5:3000"}).monitors[0].url
        == "http://10.0.0.5:3000/healthz"
    )
    with pytest.raises(ConfigError, match=r"\$\{APP_HOST\} is used but not set"):
        parse_config(text, environ={})


def test_not_yaml_and_unreadable_files_are_clear_errors(tmp_path):
    assert errors_of("settings: [unclosed")[0].startswith("config: not valid YAML")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.yaml"))


def test_check_command_exits_non_zero_with_the_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SETTINGS + "monitors: [{name: a, url: 'http://h/', timeout: soon}]")
    checked = subprocess.run(
        [sys.executable, "-m", "chalicelib.config", str(bad), str(ROOT / "chalicelib/configs/example.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 1
    assert "monitors[0].timeout: expected a duration like" in checked.stderr
    assert "example.yaml: ok (4 monitors" in checked.stdout
