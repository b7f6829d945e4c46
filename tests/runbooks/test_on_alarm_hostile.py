"""Hostile alarm fields: dropped, or handled without any of their text reaching SendCommand.

Whatever the alarm says, the restart goes to the runbook's configured targets with exactly the
configured parameters; the text lives on only in the incident's story and in notices.
"""

from __future__ import annotations

import pytest

from .conftest import RESTART_WEB, base_config, body_of, sns_event, with_body

SHELL = "; rm -rf / $(reboot) `id` | sh && echo pwned > /etc/passwd"
HUGE = "A" * 100_000


def assert_commands_are_clean(world) -> None:
    """Every command is the fixed document with the configured parameters, on our instances."""
    for command in world.commands():
        assert command["DocumentName"] == "autoheal-restart"
        assert command["Parameters"] == RESTART_WEB
        assert set(command["InstanceIds"]) <= set(world.blue)
        assert len(command["Comment"]) <= 100


def metric_trigger(**dimension_values: str) -> dict:
    trigger = body_of(sns_event("alarm-metric-alarm"))["Trigger"]
    trigger["Dimensions"] = [{"name": k, "value": v} for k, v in dimension_values.items()]
    return trigger


# --- routed anyway: the alarm is real, its text is not trusted -------------------------------

HANDLED = {
    "shell in the name": {"AlarmName": f"web-{SHELL}-memory-high"},
    "shell in the reason": {"AlarmName": "web-a-memory-high", "NewStateReason": SHELL},
    "100k reason": {"AlarmName": "web-b-memory-high", "NewStateReason": HUGE + SHELL},
    "unicode name": {"AlarmName": "web-ブルー-\u202e\u200b-🔥-memory-high"},
    "shell in description": {"AlarmName": "web-e-memory-high", "AlarmDescription": SHELL * 10},
    "display region": {"AlarmName": "web-f-memory-high", "Region": f"US East (N. Virginia){SHELL}"},
}


# --- naming an instance outside the runbook's targets: nothing is done, people are told -------

OUTSIDE = {
    "shell in dimensions": {
        "AlarmName": "web-c-memory-high",
        "Trigger": metric_trigger(InstanceId=f"i-0abc{SHELL}", AutoScalingGroupName=SHELL),
    },
    "long dimension": {
        "AlarmName": "web-d-memory-high",
        "Trigger": metric_trigger(InstanceId="i-" + "f" * 1000),
    },
}


@pytest.mark.parametrize("case", sorted(OUTSIDE))
def test_an_alarm_naming_an_instance_outside_the_targets_acts_on_nothing(world, case):
    out = world.on_alarm(world.event("alarm-metric-alarm", f"outside-{len(case)}", **OUTSIDE[case]))
    [handled] = out["handled"]
    assert world.commands() == []
    assert (handled["status"], handled["run"]) == ("open", "escalated")
    assert "escalated" in world.kinds()


def test_hostile_text_never_reaches_the_command(make_world, health):
    config = base_config(health.url)
    config["runbooks"]["restart-web"]["budget"]["max_runs"] = 50  # eight runs on the same targets
    world = make_world(config)
    for number, (case, changes) in enumerate(HANDLED.items(), start=1):
        out = world.on_alarm(world.event("alarm-metric-alarm", f"hostile-{number}", **changes))
        [handled] = out["handled"]
        assert handled["status"] == "resolved" and "error" not in handled, case
        assert len(world.commands()) == number, case
        incident = world.incident(handled["incident"])
        assert incident.status == "resolved", case
        assert all(len(line) <= 1100 for line in incident.story), case  # the reason was capped
    assert_commands_are_clean(world)
    # The instance ids come from the runbook's tags, never from an alarm's dimensions (moto's
    # random ids may well contain "ffff": compare with the hostile values themselves).
    sent = {i for c in world.commands() for i in c["InstanceIds"]}
    assert sent == {world.instances["blue-1"]}  # the instance the sample alarm names
    assert not sent & {f"i-0abc{SHELL}", "i-" + "f" * 1000}


def test_shell_text_in_the_name_stays_in_the_story_and_the_comment_only(world):
    name = f"web-{SHELL}-memory-high"
    world.on_alarm(world.event("alarm-metric-alarm", AlarmName=name))
    [command] = world.commands()
    assert command["Parameters"] == RESTART_WEB
    token = command["Comment"].split()[1]  # how a run that died finds what it sent
    incident = world.incident(name)
    # The incident's key (runbook/instance) labels the command; the hostile name is story only.
    assert command["Comment"] == f"autoheal {token} {incident.key}"[:100]
    assert incident.key == f"restart-web/{world.instances['blue-1']}" and incident.name == name


# --- dropped before any write --------------------------------------------------------------

DROPPED = {
    "100k name": {"AlarmName": "web-" + HUGE + "-memory-high"},
    "name with newline": {"AlarmName": "web-blue\n-memory-high"},
    "name with NUL": {"AlarmName": "web-blue\x00-memory-high"},
    "name is a number": {"AlarmName": 12345},
    "name is a list": {"AlarmName": ["web-blue-memory-high"]},
    "name is empty": {"AlarmName": ""},
    "state with shell": {"NewStateValue": f"ALARM{SHELL}"},
    "state lower case": {"NewStateValue": "alarm"},
    "state is true": {"NewStateValue": True},
    "reason is an object": {"NewStateReason": {"$(reboot)": 1}},
    "reason missing": {"NewStateReason": None},
    "trigger is a string": {"Trigger": SHELL},
    "dimensions is an object": {"Trigger": {**metric_trigger(), "Dimensions": {"name": "InstanceId"}}},
    "dimension value is a number": {
        "Trigger": {**metric_trigger(), "Dimensions": [{"name": "x", "value": 1}]}
    },
    "threshold is text": {"Trigger": {**metric_trigger(), "Threshold": "90; reboot"}},
    "period is a bool": {"Trigger": {**metric_trigger(), "Period": True}},
    "huge dimension value": {"Trigger": metric_trigger(InstanceId=HUGE)},
    "trigger and rule": {"AlarmRule": SHELL},
    "time is a number": {"StateChangeTime": 1714597384},
}


def test_malformed_alarms_are_dropped_with_no_write(world):
    for case, changes in DROPPED.items():
        out = world.on_alarm(world.event("alarm-metric-alarm", **changes))
        assert out["handled"] == [] and len(out["dropped"]) == 1, case
        reason = out["dropped"][0]
        assert SHELL not in reason and HUGE[:100] not in reason, case  # reasons never quote values
    world.nothing_written()


def test_hostile_monitor_dimension_on_a_probe_alarm_is_dropped(world):
    event = sns_event("alarm-probe-down")
    body = body_of(event)
    body["Trigger"]["Dimensions"] = [{"name": "Monitor", "value": f"web{SHELL}"}]
    body["AlarmName"] = f"autoheal-probe-web{SHELL}"
    out = world.on_alarm(with_body(event, body))
    assert out["handled"] == [] and "no monitor" in out["dropped"][0]
    world.nothing_written()


def test_hostile_message_ids_are_dropped(world):
    for message_id in (f"5c0e7f2a{SHELL}", "", "x" * 200, None, 42, "ü-id", ["5c0e7f2a"]):
        event = world.event("alarm-metric-alarm")
        event["Records"][0]["Sns"]["MessageId"] = message_id
        out = world.on_alarm(event)
        assert out["handled"] == [] and len(out["dropped"]) == 1, message_id
    world.nothing_written()


def test_message_that_is_not_json_or_not_an_object(world):
    for message in (SHELL, "[1, 2]", '"ALARM"', "{" * 5000 + "}" * 5000, HUGE * 3, "null"):
        out = world.on_alarm(with_body(world.event("alarm-metric-alarm"), message))
        assert out["handled"] == [] and len(out["dropped"]) == 1, message[:40]
    world.nothing_written()
