"""Property tests: whatever arrives, on_alarm raises nothing and makes no mutating AWS call."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import wiring
from tests.support.strategies import json_values

from .conftest import body_of, sns_event

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ALARM_KEYS = ["AlarmName", "NewStateValue", "OldStateValue", "NewStateReason", "StateChangeTime", "Trigger",
              "AlarmRule", "Region", "AWSAccountId", "TriggeringChildren"]  # fmt: skip
# Alarm-shaped bodies: the real keys, arbitrary values (some sampled from the real ones).
alarm_like = st.dictionaries(
    st.sampled_from(ALARM_KEYS),
    json_values | st.sampled_from(["ALARM", "OK", "INSUFFICIENT_DATA", "web-blue-memory-high", "web"]),
    max_size=len(ALARM_KEYS),
)


def envelope(message: str) -> dict:
    """A plausible Lambda SNS event (as SNS really sends it) around `message`."""
    event = sns_event("alarm-metric-alarm", "fuzz-0001")
    event["Records"][0]["Sns"]["Message"] = message
    return event


def assert_untouched(world) -> None:
    assert world.items() == [], "DynamoDB written"
    assert world.commands() == [], "SSM command sent"
    assert world.published() == [], "people notified"


@pytest.fixture
def quiet_world(world):
    """A world whose runbook would act if anything got through (healthy app, real targets)."""
    assert body_of(world.event("alarm-metric-alarm"))["AlarmName"] == "web-blue-memory-high"
    return world


def test_garbage_inside_a_real_sns_envelope(quiet_world):
    world = quiet_world

    @FUZZ
    @given(body=json_values | alarm_like)
    def check(body):
        out = world.on_alarm(envelope(json.dumps(body)))  # the Lambda entry point, as SNS calls it
        assert out["handled"] == [], out
        assert_untouched(world)

    check()


def test_garbage_text_as_the_message(quiet_world):
    world = quiet_world

    @FUZZ
    @given(message=st.text(max_size=200))
    def check(message):
        out = world.on_alarm(envelope(message))
        assert out["handled"] == []
        assert_untouched(world)

    check()


def test_any_json_as_the_whole_event_through_the_handler(quiet_world):
    """The alarm intake app.on_alarm hands its event to, as wired (the real idempotent handler
    behind it): any JSON at all, including what is not SNS-shaped."""
    world = quiet_world
    intake = wiring.alarm_intake()

    @FUZZ
    @given(event=json_values | st.fixed_dictionaries({"Records": st.lists(json_values, max_size=3)}))
    def check(event):
        out = intake.take(event, deadline=0.0)
        assert out["handled"] == []
        assert_untouched(world)

    check()


NOT_SNS = [None, 42, "ALARM", [], {}, {"Records": []}, {"Records": "x"}, {"Records": [{}]},
           {"Records": [{"Sns": {"MessageId": "x", "Message": "{}"}}]}]  # fmt: skip


def test_any_json_as_the_whole_event_through_the_lambda_entry(quiet_world):
    world = quiet_world
    for event in NOT_SNS:
        out = world.on_alarm(event)
        assert out["handled"] == [], event
        assert_untouched(world)  # after each event, so a failure names the one that wrote
