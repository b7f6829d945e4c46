"""Whatever the file holds, loading it ends in a Config or a ConfigError: never another exception,
never a long stall, never a secret in the message."""

from __future__ import annotations

import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.config import ConfigError, load_config, parse_config
from tests.support.strategies import json_values

SETTINGS = "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}\n"
SECRET = "s3cr3t-t0ken-value"


def errors_of(text: str | bytes, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ=environ or {})
    return caught.value.errors


def monitor(**fields: object) -> str:
    return SETTINGS + yaml.safe_dump({"monitors": [{"name": "web", **fields}]})


@pytest.mark.parametrize(
    ("url", "error"),
    [
        (
            "http://h:99999/",
            "monitors[0].url: expected a URL with a valid host (IPv6 in [brackets]) and a port 1-65535",
        ),
        (
            "http://h:port/",
            "monitors[0].url: expected a URL with a valid host (IPv6 in [brackets]) and a port 1-65535",
        ),
        (
            "http://[::1/healthz",
            "monitors[0].url: expected a URL with a valid host (IPv6 in [brackets]) and a port 1-65535",
        ),
        ("http://h:0/", "monitors[0].url: expected a port 1-65535, got 0"),
    ],
)
def test_urls_with_bad_ports_or_ipv6_are_config_errors(url: str, error: str) -> None:
    assert errors_of(monitor(url=url)) == [error]


def test_ipv6_urls_with_a_port_load() -> None:
    config = parse_config(monitor(url="tcp://[::1]:5432", kind="tcp"), environ={})
    assert config.monitors[0].url == "tcp://[::1]:5432"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            SETTINGS + "deployments: {web: {listener: {load_balancer: alb, port: 70000}, blue: b, green: g}}",
            "deployments.web.listener.port: expected a whole number <= 65535, got 70000",
        ),
        (
            monitor(url="http://h/", retries=10**30),
            f"monitors[0].retries: expected a whole number <= 1000000, got {10**30}",
        ),
        (
            monitor(url="http://h/", expect={"max_response_time": "31d"}),
            "monitors[0].expect.max_response_time: expected a duration of at most 30d, got '31d'",
        ),
        (
            monitor(url="http://h/", expect={"max_response_time": "9" * 400 + "s"}),
            "monitors[0].expect.max_response_time: expected a duration of at most 30d, got '"
            + "9" * 32
            + "...",
        ),
        (SETTINGS + "monitors: [{name: web, url: 'http://h/', retries: " + "9" * 5000 + "}]", None),
        (SETTINGS + "monitors: [{name: web, url: 'http://h/', retries: .inf}]", None),
        (SETTINGS + "created: 2024-13-45\n", "config: a value YAML cannot read (ValueError)"),
    ],
)
def test_huge_numbers_and_long_durations_are_config_errors(text: str, error: str | None) -> None:
    errors = errors_of(text)
    if error is None:
        assert len(errors) == 1 and errors[0].startswith(("config: ", "monitors[0].retries: expected")), (
            errors
        )
    elif error.endswith("..."):
        assert errors[0].startswith(error[:-3]) and len(errors[0]) < 200, errors
    else:
        assert errors == [error]


def test_a_billion_laughs_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    started = time.monotonic()
    assert errors_of(SETTINGS + "\n".join(lines) + "\n") == [
        "config: more than 100000 values once aliases are expanded"
    ]
    assert time.monotonic() - started < 2


def test_a_few_aliases_are_fine() -> None:
    text = SETTINGS + "monitors:\n  - &m {name: web, url: 'http://h/'}\n  - {<<: *m, name: api}\n"
    assert [m.name for m in parse_config(text, environ={}).monitors] == ["web", "api"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("a: &x [*x]\n", "a[0]: an alias refers to a node that contains it"),
        ("a: " + "[" * 5000 + "]" * 5000, "config: nested deeper than 64 levels"),
        ("a: " + "[" * 100 + "]" * 100, "a" + "[0]" * 64 + ": nested deeper than 64 levels"),
        ("monitors: [{1: x}]", "monitors[0]: keys must be strings, got int key '1'"),
        ("monitors: [{~: x}]", "monitors[0]: keys must be strings, got null key '~'"),
        ("? [a, b]\n: c\n", "(top level): keys must be strings, got seq key 'a collection'"),
        ("on: x", "(top level): keys must be strings, got bool key 'on'"),
        (
            "a: b\n\tc: d\n",
            "config: not valid YAML at line 2, column 1: while scanning for the next token,"
            " found character '\\t' that cannot start any token",
        ),
        ("a: *nowhere", "config: not valid YAML at line 1, column 4: found undefined alias 'nowhere'"),
        (
            "a: 1\n---\nb: 2\n",
            "config: not valid YAML at line 2, column 1: expected a single document in the stream,"
            " but found another document",
        ),
        ("a: !!python/object:os.system x", None),
    ],
)
def test_hostile_yaml_is_a_config_error(text: str, error: str | None) -> None:
    errors = errors_of(text)
    if error is None:
        assert errors[0].startswith("config: not valid YAML"), errors
    else:
        assert errors == [error]


def test_invalid_utf8_is_a_config_error(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(SETTINGS.encode() + b"monitors: [{name: w\xff\xfe}]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert caught.value.errors == [f"{path}: not valid UTF-8 (byte {len(SETTINGS) + 19})"]


def test_a_huge_file_is_refused_before_parsing(tmp_path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"#" * 2_000_000)
    with pytest.raises(ConfigError, match="larger than 1000000 bytes"):
        load_config(str(path))


def test_environment_values_are_data_never_yaml() -> None:
    text = SETTINGS + "monitors: [{name: web, url: 'http://${HOST}/healthz'}]\n"
    config = parse_config(text, environ={"HOST": "h/', runbook: x, extra: {"})
    assert config.monitors[0].url == "http://h/', runbook: x, extra: {/healthz"
    assert config.monitors[0].runbook is None
    # Comments are not values: a reference there needs nothing from the environment.
    assert parse_config(SETTINGS + "# ${UNSET}\n", environ={}).monitors == ()


def test_an_unset_name_is_named_with_its_key_path() -> None:
    text = SETTINGS + "monitors: [{name: web, url: 'http://${APP_HOST}/'}]\n"
    assert errors_of(text) == ["monitors[0].url: ${APP_HOST} is used but not set in the environment"]


@pytest.mark.parametrize(
    "fields",
    [
        {"url": "http://${TOKEN}:99999/"},
        {"url": "ftp://h/${TOKEN}"},
        {"url": "http://h/", "timeout": "${TOKEN}"},
        {"url": "http://h/", "method": "${TOKEN}"},
        {"url": "http://h/", "retries": "${TOKEN}"},
        {"url": "http://h/", "headers": {"Authorization": f"Bearer {SECRET}", "X-Bad": [SECRET]}},
        {"url": "http://h/", "headers": {"Authorization": "${TOKEN}"}, "method": f"X{SECRET}"},
        {"url": f"http://h/{SECRET}", "headers": {"X": SECRET}, "kind": "tcp"},
    ],
)
def test_no_error_quotes_a_secret(fields: dict) -> None:
    errors = errors_of(monitor(**fields), environ={"TOKEN": SECRET})
    assert errors, fields
    assert not any(SECRET in error for error in errors), errors


BASE = {
    "settings": {"state_table": "t", "alarm_topic": "a", "notify_topic": "n", "status_bucket": "b"},
    "monitors": [{"name": "web", "url": "http://h/", "runbook": "r"}],
    "alarms": [{"match": "x-*", "runbook": "r"}],
    "runbooks": {
        "r": {"targets": {"tag": {"app": "web"}}, "steps": [{"restart": {"service": "web", "user": "app"}}]}
    },
    "deployments": {"d": {"listener": {"load_balancer": "l", "port": 443}, "blue": "b", "green": "g"}},
}
PLACES = [
    ("settings",),
    ("monitors",),
    ("monitors", 0),
    ("monitors", 0, "url"),
    ("monitors", 0, "headers"),
    ("monitors", 0, "expect"),
    ("monitors", 0, "timeout"),
    ("monitors", 0, "kind"),
    ("alarms", 0),
    ("runbooks", "r"),
    ("runbooks", "r", "targets"),
    ("runbooks", "r", "steps"),
    ("runbooks", "r", "steps", 0),
    ("runbooks", "r", "steps", 0, "restart"),
    ("runbooks", "r", "budget"),
    ("deployments", "d"),
    ("deployments", "d", "listener"),
    ("deployments", "d", "steps"),
]


def loads_or_config_error(content: str | bytes) -> None:
    try:
        parse_config(content, environ={"HOST": "h"})
    except ConfigError as exc:
        assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400) | st.binary(max_size=400))
def test_any_text_or_bytes_loads_or_is_a_config_error(content: str | bytes) -> None:
    loads_or_config_error(content)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PLACES), json_values)
def test_any_value_anywhere_in_a_config_loads_or_is_a_config_error(place: tuple, value: object) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    target = data
    for step in place[:-1]:
        target = target[step]
    target[place[-1]] = value
    loads_or_config_error(yaml.safe_dump(data, allow_unicode=True))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="{}[]:,-&*!|>'\"#%@`?~ \n\tabx01.${}", max_size=200))
def test_yaml_punctuation_soup_loads_or_is_a_config_error(text: str) -> None:
    loads_or_config_error(SETTINGS + text)
