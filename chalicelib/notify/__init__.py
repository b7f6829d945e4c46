"""Tell people: SNS email/SMS and Slack/Discord webhooks, behind one small interface.

>>> notifier = FanOut([SnsNotifier(topic_arn), WebhookNotifier("/autoheal/chat-webhook")])  # doctest: +SKIP
>>> notifier.send(Notice("opened", "web", "web is DOWN", lines=("21:03:04 DOWN: timeout",)))  # doctest: +SKIP
[]
"""

from chalicelib.notify.format import discord_payload, email_subject, slack_payload, sns_message
from chalicelib.notify.notice import NOTICE_KINDS, Notice
from chalicelib.notify.providers import FanOut, Notifier
from chalicelib.notify.sns import SnsNotifier
from chalicelib.notify.webhook import WebhookNotifier, webhook_kind

__all__ = [
    "NOTICE_KINDS",
    "FanOut",
    "Notice",
    "Notifier",
    "SnsNotifier",
    "WebhookNotifier",
    "discord_payload",
    "email_subject",
    "slack_payload",
    "sns_message",
    "webhook_kind",
]
