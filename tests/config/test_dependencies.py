"""`monitors[].depends_on` and `settings.group_wait` in the config: errors by key path."""

from __future__ import annotations

import pytest

from chalicelib.config import ConfigError, parse_config
from chalicelib.config.dependencies import cycles
from chalicelib.config.loader import load_config

HEAD = "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b%s}\nmonitors:\n"


def monitors(*lines: str, settings: str = "") -> str:
    return HEAD % settings + "".join(f"  - {line}\n" for line in lines)


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.errors


def test_depends_on_and_group_wait_are_read():
    config = parse_config(
        monitors(
            '{name: web, url: "http://a/"}',
            '{name: api, url: "http://a/api", depends_on: [web]}',
            settings=", group_wait: 0",
        )  # fmt: skip
    )
    assert config.monitor("api").depends_on == ("web",) and config.monitor("web").depends_on == ()
    assert config.settings.group_wait == 0.0
    assert parse_config(monitors('{name: web, url: "http://a/"}')).settings.group_wait == 5.0


def test_unknown_self_and_cycles_are_named_by_key_path():
    errors = errors_of(
        monitors(
            '{name: web, url: "http://a/", depends_on: [db]}',
            '{name: db, url: "http://a/db", depends_on: [api]}',
            '{name: api, url: "http://a/api", depends_on: [web, api, nope]}',
        )
    )
    assert "monitors[2].depends_on: 'api' cannot depend on itself" in errors
    assert "monitors[2].depends_on: no monitor named 'nope'" in errors
    assert "monitors[0].depends_on: a cycle (web -> db -> api -> web)" in errors
    assert len(errors) == 3


def test_a_bad_group_wait_is_named():
    errors = errors_of(monitors('{name: web, url: "http://a/"}', settings=", group_wait: 1h"))
    assert errors == ["settings.group_wait: expected a duration of at most 5m, got '1h'"]
    errors = errors_of(monitors('{name: web, url: "http://a/", depends_on: web}'))
    assert errors == ["monitors[0].depends_on: expected a list, got a string"]


def test_each_cycle_is_reported_once():
    graph = {"a": ["b"], "b": ["a"], "c": ["d"], "d": ["c", "a"], "e": ["a"]}
    assert cycles(graph) == [["a", "b"], ["c", "d"]]


def test_the_demo_declares_api_and_realtime_dependent_on_web(monkeypatch):
    for name in ("FLEET_BLUE_1", "FLEET_GREEN_1", "ALB_WEB_ALB_80"):
        monkeypatch.setenv(name, "127.0.0.1:8080")
    monkeypatch.setenv("STATUS_SITE", "http://127.0.0.1:8081")
    config = load_config("chalicelib/configs/demo.yaml")
    assert config.monitor("api").depends_on == ("web",)
    assert config.monitor("realtime").depends_on == ("web",)
