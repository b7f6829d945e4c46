"""Every sample event in events/ parses to the right kind, state and monitor."""

from __future__ import annotations

import pytest

from chalicelib.alarms import parse_sns_event, parse_sns_record

from .samples import EVENTS, PROBE_NAMESPACE, load_event

SAMPLES = [
    # file, name, kind, state, old_state, namespace, metric, monitor
    ("alarm-metric-alarm.json", "web-blue-memory-high", "metric", "ALARM", "OK",
     "CWAgent", "mem_used_percent", None),
    ("alarm-metric-ok.json", "web-blue-memory-high", "metric", "OK", "ALARM",
     "CWAgent", "mem_used_percent", None),
    ("alarm-metric-insufficient.json", "web-blue-memory-high", "metric", "INSUFFICIENT_DATA", "OK",
     "CWAgent", "mem_used_percent", None),
    ("alarm-metric-math.json", "web-5xx-rate-high", "metric_math", "ALARM", "OK",
     "AWS/ApplicationELB", None, None),
    ("alarm-composite.json", "web-service-degraded", "composite", "ALARM", "OK", None, None, None),
    ("alarm-probe-down.json", "autoheal-probe-web", "probe", "ALARM", "OK",
     "Autoheal", "Availability", "web"),
    ("alarm-probe-up.json", "autoheal-probe-web", "probe", "OK", "ALARM",
     "Autoheal", "Availability", "web"),
]  # fmt: skip


@pytest.mark.parametrize(
    "filename,name,kind,state,old_state,namespace,metric,monitor",
    SAMPLES,
    ids=[s[0] for s in SAMPLES],
)
def test_sample_parses(filename, name, kind, state, old_state, namespace, metric, monitor):
    event = load_event(filename)
    parsed, dropped = parse_sns_event(event, PROBE_NAMESPACE)
    assert dropped == []
    [alarm] = parsed
    assert (alarm.name, alarm.kind, alarm.state, alarm.old_state) == (name, kind, state, old_state)
    assert (alarm.namespace, alarm.metric, alarm.monitor) == (namespace, metric, monitor)
    assert alarm.region == "US East (N. Virginia)"
    assert alarm.account == "123456789012"
    assert alarm.message_id == event["Records"][0]["Sns"]["MessageId"]
    assert alarm.changed_at.endswith("+0000")
    assert alarm.reason


def test_every_sample_file_is_covered():

    assert {p.name for p in EVENTS.glob("alarm-*.json")} == {s[0] for s in SAMPLES}


def test_probe_is_only_probe_in_the_probe_namespace():
    record = load_event("alarm-probe-down.json")["Records"][0]
    alarm = parse_sns_record(record, probe_namespace="SomethingElse")
    assert (alarm.kind, alarm.monitor) == ("metric", "web")


def test_description_is_kept():
    alarm = parse_sns_record(load_event("alarm-metric-alarm.json")["Records"][0], PROBE_NAMESPACE)
    assert alarm.description == "Memory above 90% on a blue web instance"
