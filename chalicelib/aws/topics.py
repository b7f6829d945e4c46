"""Publishing to SNS topics."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

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

    try:
        return quick_client(patience_for(seconds)).publish(**publish_args(topic, message, subject))[
            "MessageId"
        ]
    except (ConnectionError, HTTPClientError) as exc:
        raise TopicUnreachable(str(exc)) from exc


# PublishBatch's limits: ten entries, and 256 KiB for the bodies together (kept under, for the
# subjects and the request's own bytes).
BATCH_ENTRIES = 10
BATCH_BYTES = 240 * 1024


@dataclass(frozen=True)
class BatchOutcome:
    """What SNS did with each message of one PublishBatch, by its position in the batch: those it
    took, and those it refused with its code and reason. A position in neither got no answer."""

    sent: frozenset[int] = frozenset()
    refused: Mapping[int, str] = field(default_factory=dict)


def publish_batch_within(
    topic: str, messages: Sequence[tuple[Mapping[str, Any], Optional[str]]], seconds: float
) -> BatchOutcome:
    """Publish up to BATCH_ENTRIES (message, subject) pairs in one request, ending within `seconds`.

    One request where a fresh outage's dozens of alarms took one each: in flight together, the
    outage's publishing is one round trip. Raises as `publish_json_within` does; a ClientError
    means SNS refused the request as a whole (each message may still be good on its own).
    """
    from botocore.exceptions import ConnectionError, HTTPClientError

    if not 0 < len(messages) <= BATCH_ENTRIES:
        raise ValueError(f"messages: expected 1 to {BATCH_ENTRIES}, got {len(messages)}")
    entries = []
    for position, (message, subject) in enumerate(messages):
        entry = publish_args(topic, message, subject)
        del entry["TopicArn"]
        entries.append({"Id": str(position), **entry})
    try:
        answer = quick_client(patience_for(seconds)).publish_batch(
            TopicArn=topic_arn(topic), PublishBatchRequestEntries=entries
        )
    except (ConnectionError, HTTPClientError) as exc:
        raise TopicUnreachable(str(exc)) from exc
    return BatchOutcome(
        sent=frozenset(int(entry["Id"]) for entry in answer.get("Successful", [])),
        refused={
            int(entry["Id"]): f"{entry.get('Code')}: {entry.get('Message')}"
            for entry in answer.get("Failed", [])
        },
    )


def batches(sizes: Sequence[int]) -> list[range]:
    """Consecutive positions of messages of these body sizes, split into PublishBatch requests."""
    found: list[range] = []
    start, total = 0, 0
    for position, size in enumerate(sizes):
        if position > start and (position - start == BATCH_ENTRIES or total + size > BATCH_BYTES):
            found.append(range(start, position))
            start, total = position, 0
        total += size
    if start < len(sizes):
        found.append(range(start, len(sizes)))
    return found


def patience_for(seconds: float) -> Patience:
    """The most patient client whose worst case fits in `seconds`."""
    patience = next((p for p in PATIENCE if p.worst <= seconds), None)
    if patience is None:
        raise NoTimeToPublish(f"seconds: expected at least {PATIENCE[-1].worst}, got {seconds:.2f}")
    return patience


def quick_client(patience: Patience) -> Any:
    """The shared SNS client of quick publishes with this patience."""
    return bounded_client("sns", patience.connect, patience.read, patience.attempts)


def publish_args(topic: str, message: Mapping[str, Any], subject: Optional[str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"TopicArn": topic_arn(topic), "Message": json.dumps(message)}
    if subject:
        kwargs["Subject"] = subject[:100]
    return kwargs
