"""Publishing to SNS topics."""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from chalicelib.aws.clients import client, topic_arn


def publish_json(topic: str, message: Mapping[str, Any], subject: Optional[str] = None) -> str:
    """Publish `message` as JSON to `topic` (a name or an ARN); returns the SNS MessageId."""
    kwargs: dict[str, Any] = {"TopicArn": topic_arn(topic), "Message": json.dumps(message)}
    if subject:
        kwargs["Subject"] = subject[:100]
    return client("sns").publish(**kwargs)["MessageId"]
