"""Alarm text reaches the logs as data: one JSON object per line, whatever it holds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import wiring  # noqa: F401 - builds the parent logger, as every function's cold start does
from chalicelib.config import parse_config
from chalicelib.incidents.alarm import handle_sns_event

from .samples import PROBE_NAMESPACE, load_event, record_with

CONFIG = parse_config(
    "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b, "
    f"metrics_namespace: {PROBE_NAMESPACE}}}\n",
    environ={},
)


def never(*_: Any) -> dict[str, Any]:
    raise AssertionError("nothing claims this alarm: it must not be processed")


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_a_line_or_paragraph_separator_in_an_alarm_name_stays_inside_one_log_line(
    capsys: pytest.CaptureFixture[str], separator: str
) -> None:
    body = json.loads(load_event("alarm-metric-alarm.json")["Records"][0]["Sns"]["Message"])
    body["AlarmName"] = f"db{separator}-cpu-high"
    capsys.readouterr()

    out = handle_sns_event({"Records": [record_with(body)]}, CONFIG, never)

    assert out["handled"] == [] and "no monitor or alarms[].match claims" in out["dropped"][0]
    logged = capsys.readouterr().out
    assert separator not in logged  # escaped, as JSON allows: \u2028
    # Tools that split on every Unicode line break (Python's splitlines, JavaScript before ES2019)
    # still see whole JSON objects.
    lines = [json.loads(line) for line in logged.splitlines()]
    assert [line["alarm"] for line in lines if "alarm" in line] == [f"db{separator}-cpu-high"]
