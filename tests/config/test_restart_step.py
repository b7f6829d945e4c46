"""The restart step names whose manager runs the service, checked as the deployed document checks it."""

from __future__ import annotations

import re

import pytest

from chalicelib.config import ConfigError, parse_config
from chalicelib.runbooks.actions import SERVICE_NAME, USER_NAME, UnsafeParameter, restart_parameters
from sandbox.provision import restart_document_content

SETTINGS = "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}\n"


def runbook_with(restart: str) -> str:
    return (
        SETTINGS
        + f"runbooks:\n  r:\n    targets: {{tag: {{app: web}}}}\n    steps: [{{restart: {restart}}}]\n"
    )


def restart_step(restart: str) -> dict:
    return parse_config(runbook_with(restart)).runbooks["r"].steps[0].params


def errors_of(restart: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(runbook_with(restart))
    return caught.value.errors


@pytest.mark.parametrize(
    ("restart", "params"),
    [
        ("{service: web, user: ec2-user}", {"service": "web", "manager": "pm2", "user": "ec2-user"}),
        ("{service: web, manager: systemd}", {"service": "web", "manager": "systemd", "user": None}),
        (
            "{service: worker, manager: systemd, user: ubuntu}",
            {"service": "worker", "manager": "systemd", "user": "ubuntu"},
        ),
        ("{service: cache, manager: docker}", {"service": "cache", "manager": "docker", "user": None}),
    ],
)
def test_restart_reads_service_manager_and_user(restart: str, params: dict) -> None:
    assert restart_step(restart) == params


@pytest.mark.parametrize(
    ("restart", "error"),
    [
        (
            "{service: web, manager: pm2}",
            "runbooks.r.steps[0].restart.user: required for manager pm2 (PM2 keeps one daemon per user),"
            " e.g. ec2-user or ubuntu",
        ),
        (
            "{service: cache, manager: docker, user: app}",
            "runbooks.r.steps[0].restart.user: not allowed for manager docker"
            " (containers belong to the docker daemon)",
        ),
        (
            "{service: web, user: '-oProxyCommand=x'}",
            "runbooks.r.steps[0].restart.user: expected a Linux user name like ec2-user"
            f" ({USER_NAME.pattern})",
        ),
        ("{service: web, user: Root}", None),
        ('{service: web, user: "app\\n"}', None),
        ("{service: '--help', user: app}", None),
        ('{service: "web\\n", user: app}', None),
    ],
)
def test_restart_refuses_what_the_document_would(restart: str, error: str | None) -> None:
    errors = errors_of(restart)
    assert len(errors) == 1, errors
    if error is not None:
        assert errors == [error]
    else:
        assert re.match(r"runbooks\.r\.steps\[0\]\.restart\.(user|service): expected ", errors[0]), errors


def test_restart_parameters_carry_the_user_to_the_document() -> None:
    assert restart_parameters("web", "pm2", "ec2-user") == {
        "service": ["web"],
        "manager": ["pm2"],
        "user": ["ec2-user"],
    }
    assert restart_parameters("web", "systemd", None) == {"service": ["web"], "manager": ["systemd"]}


@pytest.mark.parametrize(
    ("service", "manager", "user", "message"),
    [
        ("-web", "pm2", "app", "restart service: expected a letter or digit"),
        ("web\n", "pm2", "app", "restart service: expected a letter or digit"),
        ("web", "pm2", None, "restart user: required for pm2"),
        ("web", "pm2", "-x", "restart user: expected a Linux user name"),
        ("web", "pm2", 0, "restart user: expected a Linux user name"),
        ("web", "docker", "app", "restart user: not allowed for docker"),
        ("web", "launchd", None, "restart manager: expected one of pm2, systemd, docker"),
    ],
)
def test_restart_parameters_refuse_before_sending(
    service: object, manager: object, user: object, message: str
) -> None:
    with pytest.raises(UnsafeParameter, match=re.escape(message)):
        restart_parameters(service, manager, user)


def test_the_project_checks_the_same_patterns_as_the_deployed_document() -> None:
    parameters = restart_document_content()["parameters"]
    assert parameters["service"]["allowedPattern"] == SERVICE_NAME.pattern
    # The document also accepts "" (its default) for no user.
    assert parameters["user"]["allowedPattern"] == f"^({USER_NAME.pattern[1:-1]})?$"
    assert parameters["user"]["default"] == ""
    for spec in parameters.values():
        assert spec["interpolationType"] == "ENV_VAR"
        assert not re.fullmatch(spec["allowedPattern"], "-x"), spec
