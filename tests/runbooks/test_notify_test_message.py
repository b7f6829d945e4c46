"""The test message: "autoheal test" through every configured channel, against moto's SNS."""

from __future__ import annotations

from chalicelib import wiring
from chalicelib.notify.providers import FanOut
from chalicelib.notify.sns import SnsNotifier
from chalicelib.notify.test_message import send_test_message


def test_the_test_message_reaches_the_notify_topic_and_nothing_else(world):
    assert send_test_message(wiring.notifier()) == {"sent": ["email", "sms"], "failed": []}
    [message] = world.published()
    assert message["Subject"] == "[autoheal] autoheal test" and message["kind"] == "test"
    assert "this channel reaches you" in message["Message"]
    [sms] = world.published("sms")
    assert sms["Message"] == "autoheal: autoheal test"  # one GSM-7 segment, not the e-mail's story
    assert not [item for item in world.items() if item["pk"] == "incident"]
    assert world.commands() == []


def test_a_channel_that_refuses_is_named(world):
    missing = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    out = send_test_message(FanOut([SnsNotifier(missing)]))
    assert out == {"sent": [], "failed": ["SnsNotifier"]}
    assert world.published() == []
