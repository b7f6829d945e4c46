"""Notify people through the SNS "notify" topic: email subscribers get the story, SMS a line.

Each channel publishes on its own, with a `channel` message attribute ("email" or "sms"), and
each subscription's filter policy takes one channel (`{"channel": ["sms"]}`): so e-mail and SMS
can follow different policies and limits (`settings.notify`) on one topic. A subscription
without a filter policy would get both publishes; the resources template sets them, and
`check --live` names a subscription that has none.

>>> SnsNotifier("arn:aws:sns:us-east-1:123456789012:autoheal-notify", "sms").send(notice)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Optional

from chalicelib.aws import clients
from chalicelib.config.kinds import Grant
from chalicelib.notify.channels import Channel, register
from chalicelib.notify.format import email_subject, sns_message
from chalicelib.notify.notice import Notice

if TYPE_CHECKING:
    from chalicelib.config.model import ChannelPolicy, Settings

CHANNEL_ATTRIBUTE = "channel"
SNS_CHANNELS = ("email", "sms")


class SnsNotifier:
    """Publishes one message per notice for its channel (MessageStructure="json"); with no
    channel, one message shaped for every protocol and no attribute."""

    def __init__(self, topic_arn: str, channel: Optional[str] = None, client: Optional[Any] = None) -> None:
        if channel is not None and channel not in SNS_CHANNELS:
            raise ValueError(f"channel: expected one of {', '.join(SNS_CHANNELS)}, got {channel!r}")
        self.topic_arn = topic_arn
        self.channel = channel
        self._client = client

    @property
    def client(self) -> Any:
        # Resolved late so a test (or the sandbox) can point clients elsewhere first.
        return self._client or clients.client("sns")

    def send(self, notice: Notice) -> None:
        """Publish; raises the botocore error on failure (FanOut reports it)."""
        message = sns_message(notice)
        extra: dict[str, Any] = {}
        if self.channel is not None:
            text = message[self.channel]
            message = {"default": text, self.channel: text}
            extra["MessageAttributes"] = {
                CHANNEL_ATTRIBUTE: {"DataType": "String", "StringValue": self.channel}
            }
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=email_subject(notice),
            # ensure_ascii=False: UTF-8 is smaller than \\u escapes against SNS's size limit
            Message=json.dumps(message, ensure_ascii=False),
            MessageStructure="json",
            **extra,
        )


class SnsChannel(Channel):
    """A channel of the notify topic: its subscribers whose filter policy takes this channel."""

    grants = (Grant("Notify", ("sns:Publish",), "notify-topic"),)

    @classmethod
    def build(cls, settings: Settings, policy: ChannelPolicy) -> SnsNotifier:
        return SnsNotifier(clients.topic_arn(settings.notify_topic), cls.kind)

    # Its subscriptions (pending, unfiltered) are looked up by `check --live`'s account checks.


@register
class Email(SnsChannel):
    kind = "email"
    in_digest = True


@register
class Sms(SnsChannel):
    kind = "sms"
