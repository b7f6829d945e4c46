"""Property tests: no JSON input makes the parser raise anything but InvalidAlarm."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.alarms import AlarmEvent, InvalidAlarm, parse_sns_event, parse_sns_record
from tests.support.strategies import json_values

from .samples import PROBE_NAMESPACE, load_event, record_with

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = ["AlarmName", "NewStateValue", "OldStateValue", "NewStateReason", "StateChangeTime",
        "Trigger", "AlarmRule", "Region", "AWSAccountId", "AlarmDescription",
        "TriggeringChildren"]  # fmt: skip
TRIGGER_KEYS = ["MetricName", "Namespace", "Dimensions", "Unit", "Metrics", "Period",
                "Threshold", "EvaluationPeriods", "Statistic"]  # fmt: skip
SAMPLE_BODIES = [
    json.loads(load_event(name)["Records"][0]["Sns"]["Message"])
    for name in ("alarm-metric-alarm.json", "alarm-metric-math.json", "alarm-composite.json",
                 "alarm-probe-down.json")
]  # fmt: skip


def check_record(record) -> None:
    try:
        assert isinstance(parse_sns_record(record, PROBE_NAMESPACE), AlarmEvent)
    except InvalidAlarm as exc:
        assert exc.reason and len(exc.reason) < 300


@FAST
@given(json_values)
def test_any_json_as_the_event(event):
    parsed, dropped = parse_sns_event(event, PROBE_NAMESPACE)
    assert isinstance(parsed, list) and isinstance(dropped, list)


@FAST
@given(st.lists(json_values, max_size=4))
def test_any_json_as_records(records):
    parsed, dropped = parse_sns_event({"Records": records}, PROBE_NAMESPACE)
    assert len(parsed) + len(dropped) == len(records)
    for record in records:
        check_record(record)


@FAST
@given(json_values)
def test_any_json_as_the_message(body):
    check_record(record_with(body))


@FAST
@given(
    st.sampled_from(SAMPLE_BODIES),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=3),
    st.dictionaries(st.sampled_from(TRIGGER_KEYS), json_values, max_size=3),
)
def test_real_alarms_with_garbage_fields(base, top, trigger):
    body = json.loads(json.dumps(base))
    body.update(top)
    if isinstance(body.get("Trigger"), dict):
        body["Trigger"].update(trigger)
    check_record(record_with(body))
