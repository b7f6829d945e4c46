"""Publishing to SNS topics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from chalicelib.aws.clients import bounded_client, client, topic_arn


@dataclass(frozen=True)
class Patience:
    """How long a quick publish waits: per-attempt timeouts and how many attempts."""

    connect: float
    read: float
    attempts: int

    @property
    def worst(self) -> float:
        """The longest the call can take: every attempt timing out, plus standard mode's
        backoff before a resend (under a second for the first one)."""
        return self.attempts * (self.connect + self.read) + (1.0 if self.attempts > 1 else 0.0)


# SNS answers a Publish in tens of milliseconds: seconds of silence are a hang, and the caller
# keeps the message for later. The most patient that fits the time left is used.
PATIENCE = (
    Patience(connect=1.0, read=2.0, attempts=2),
    Patience(connect=0.5, read=1.0, attempts=1),
    Patience(connect=0.25, read=0.5, attempts=1),
)


class TopicUnreachable(Exception):
    """SNS did not answer a quick publish: no connection, or no reply in time."""


class NoTimeToPublish(Exception):
    """Too little time is left for even the quickest publish."""


def publish_json(topic: str, message: Mapping[str, Any], subject: Optional[str] = None) -> str:
    """Publish `message` as JSON to `topic` (a name or an ARN); returns the SNS MessageId."""
    return client("sns").publish(**publish_args(topic, message, subject))["MessageId"]


def publish_json_within(
    topic: str, message: Mapping[str, Any], subject: Optional[str], seconds: float
) -> str:
    """Publish like `publish_json`, ending within `seconds` whatever SNS does.

    Raises NoTimeToPublish (nothing sent) when `seconds` is too short, TopicUnreachable when SNS
    does not answer in time; a refusal raises botocore's ClientError as usual.
    """
    from botocore.exceptions import ConnectionError, HTTPClientError

    patience = next((p for p in PATIENCE if p.worst <= seconds), None)
    if patience is None:
        raise NoTimeToPublish(f"seconds: expected at least {PATIENCE[-1].worst}, got {seconds:.2f}")
    try:
        return quick_client(patience).publish(**publish_args(topic, message, subject))["MessageId"]
    except (ConnectionError, HTTPClientError) as exc:
        raise TopicUnreachable(str(exc)) from exc


def quick_client(patience: Patience) -> Any:
    """The shared SNS client of quick publishes with this patience."""
    return bounded_client("sns", patience.connect, patience.read, patience.attempts)


def publish_args(topic: str, message: Mapping[str, Any], subject: Optional[str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"TopicArn": topic_arn(topic), "Message": json.dumps(message)}
    if subject:
        kwargs["Subject"] = subject[:100]
    return kwargs
