"""Notify people through the SNS "notify" topic: email subscribers get the story, SMS a line.

>>> SnsNotifier("arn:aws:sns:us-east-1:123456789012:autoheal-notify").send(notice)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any, Optional

from chalicelib.aws import clients
from chalicelib.notify.format import email_subject, sns_message
from chalicelib.notify.notice import Notice


class SnsNotifier:
    """Publishes one message per notice, shaped per protocol (MessageStructure="json")."""

    def __init__(self, topic_arn: str, client: Optional[Any] = None) -> None:
        self.topic_arn = topic_arn
        self._client = client

    @property
    def client(self) -> Any:
        # Resolved late so a test (or the sandbox) can point clients elsewhere first.
        return self._client or clients.client("sns")

    def send(self, notice: Notice) -> None:
        """Publish; raises the botocore error on failure (FanOut reports it)."""
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=email_subject(notice),
            # ensure_ascii=False: UTF-8 is smaller than \\u escapes against SNS's size limit
            Message=json.dumps(sns_message(notice), ensure_ascii=False),
            MessageStructure="json",
        )
