"""The probe's alarm-shaped message round-trips through the parser as kind "probe"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.alarms import STATES, cloudwatch_time, parse_sns_record, probe_alarm_message

from .samples import PROBE_NAMESPACE, load_event, record_with

AT = datetime(2024, 5, 1, 21, 3, 4, 118_000, tzinfo=UTC)


def test_same_keys_as_a_cloudwatch_notification():
    real_body = json.loads(load_event("alarm-metric-alarm.json")["Records"][0]["Sns"]["Message"])
    ours = probe_alarm_message("web", "ALARM", "OK", "timeout after 5s", PROBE_NAMESPACE, AT)
    core = {"AlarmName", "AlarmDescription", "AWSAccountId", "NewStateValue", "NewStateReason",
            "StateChangeTime", "Region", "OldStateValue", "Trigger"}  # fmt: skip
    assert core <= set(ours) and core <= set(real_body)
    assert set(ours["Trigger"]) <= set(real_body["Trigger"])
    assert ours["Trigger"]["Dimensions"] == [{"value": "web", "name": "Monitor"}]


def test_round_trip():
    body = probe_alarm_message("web", "ALARM", "OK", "timeout after 5s", PROBE_NAMESPACE, AT)
    alarm = parse_sns_record(record_with(body), PROBE_NAMESPACE)
    assert (alarm.kind, alarm.monitor, alarm.state, alarm.old_state) == ("probe", "web", "ALARM", "OK")
    assert alarm.name == "autoheal-probe-web"
    assert alarm.changed_at == "2024-05-01T21:03:04.118+0000"
    assert alarm.reason == "timeout after 5s"


def test_time_format_like_cloudwatch():
    assert cloudwatch_time(AT) == "2024-05-01T21:03:04.118+0000"
    plus_two = AT.astimezone(timezone(timedelta(hours=2)))
    assert cloudwatch_time(plus_two) == "2024-05-01T21:03:04.118+0000"
    assert cloudwatch_time(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000+0000"


def test_long_reason_is_capped():
    body = probe_alarm_message("web", "ALARM", "OK", "x" * 50_000, PROBE_NAMESPACE, AT)
    alarm = parse_sns_record(record_with(body), PROBE_NAMESPACE)
    assert len(alarm.reason) <= 1000


@pytest.mark.parametrize("new,old", [("DOWN", "OK"), ("ALARM", "up"), ("", "OK")])
def test_rejects_unknown_states(new, old):
    with pytest.raises(ValueError):
        probe_alarm_message("web", new, old, "r", PROBE_NAMESPACE, AT)


@pytest.mark.parametrize("monitor", ["", "m" * 241])
def test_rejects_unusable_monitor_names(monitor):
    with pytest.raises(ValueError):
        probe_alarm_message(monitor, "ALARM", "OK", "r", PROBE_NAMESPACE, AT)


@given(
    monitor=st.text(min_size=1, max_size=240).filter(lambda s: s.isprintable()),
    new=st.sampled_from(STATES),
    old=st.sampled_from(STATES),
    reason=st.text(max_size=2000),
)
def test_round_trip_for_any_printable_monitor(monitor, new, old, reason):
    body = probe_alarm_message(monitor, new, old, reason, PROBE_NAMESPACE, AT)
    alarm = parse_sns_record(record_with(body), PROBE_NAMESPACE)
    assert (alarm.kind, alarm.monitor, alarm.state, alarm.old_state) == ("probe", monitor, new, old)
