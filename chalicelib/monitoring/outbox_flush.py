"""Publishing the probe's outbox: every monitor's saved alarm messages, in order, before a deadline.

Messages go out in rounds: round k carries the k-th message of every monitor whose earlier ones
SNS took, so each monitor's messages reach SNS in order while different monitors' share requests.
A round's messages are packed into PublishBatch requests of ten, PUBLISHERS requests in flight at
once: a fresh outage's 70 alarms are 7 requests and one round trip, where one Publish each was 70
requests and nine round trips. A request SNS refuses as a whole is sent again message by message,
so one bad message holds back only its own monitor.

The first request SNS does not answer, or that finds no time left, ends the flush: no request
starts after it, those in flight end within their own time, and what was not sent stays in the
outbox for the next cycle.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

from chalicelib.aws.clients import topic_arn
from chalicelib.aws.topics import (
    NoTimeToPublish,
    TopicUnreachable,
    patience_for,
    publish_batch_within,
    publish_json_within,
    quick_client,
)
from chalicelib.aws.topics import batches as batch_ranges

# Requests in flight at once: under the SNS client's connection pool (10), and few enough that a
# hanging SNS holds few connections. Eight batches carry 80 messages in one round trip.
PUBLISHERS = 8


class PublishingStopped(Exception):
    """No more publishing in this cycle: the deadline is near or SNS does not answer."""


@dataclass
class Flushed:
    """What publishing one monitor's outbox did: SNS took its `sent` oldest messages; the next
    was `refused`, or publishing stopped before it."""

    monitor: str
    sent: int = 0
    refused: Optional[Exception] = None


@dataclass(frozen=True)
class Entry:
    """One message of a round: the `rank`-th of `monitor`'s outbox."""

    monitor: str
    rank: int
    message: dict


class StopSign:
    """Set by the first request that ends the flush (no time left, or SNS not answering); no
    request starts after it. Those in flight end by themselves, each within the time it had."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reason: Optional[PublishingStopped] = None

    def stop(self, reason: PublishingStopped, cause: Exception) -> None:
        reason.__cause__ = cause
        with self.lock:
            self.reason = self.reason or reason


class OutboxFlush:
    """>>> OutboxFlush("autoheal-alarms", time.monotonic, publish_by).run(outbox)  # doctest: +SKIP"""

    def __init__(
        self, topic: str, monotonic: Callable[[], float], publish_by: float, subject: Callable[[dict], str]
    ) -> None:
        self.topic = topic
        self.monotonic = monotonic
        self.publish_by = publish_by
        self.subject = subject
        self.sign = StopSign()

    def run(self, outbox: Mapping[str, Sequence[dict]]) -> tuple[list[Flushed], Optional[PublishingStopped]]:
        """Publish `outbox` (it is not changed); what each monitor's publishing did, and why
        publishing stopped early, if it did."""
        flushed = {monitor: Flushed(monitor) for monitor in outbox}
        if not outbox:
            return [], None
        warm_publisher(self.topic, self.publish_by - self.monotonic())
        with ThreadPoolExecutor(PUBLISHERS, thread_name_prefix="publish") as pool:
            rank = 0
            while self.sign.reason is None:
                entries = [
                    Entry(monitor, rank, messages[rank])
                    for monitor, messages in outbox.items()
                    if len(messages) > rank
                    and flushed[monitor].sent == rank
                    and flushed[monitor].refused is None
                ]
                if not entries:
                    break
                for outcomes in pool.map(self.publish, split(entries)):
                    for entry, refusal in outcomes:
                        if refusal is None:
                            flushed[entry.monitor].sent += 1
                        else:
                            flushed[entry.monitor].refused = refusal
                rank += 1
        return list(flushed.values()), self.sign.reason

    def publish(self, entries: Sequence[Entry]) -> list[tuple[Entry, Optional[Exception]]]:
        """One request's messages (on a publisher thread): each one sent gives (entry, None), each
        refused (entry, why); those the flush stopped before are left out."""
        if self.sign.reason is not None:
            return []
        try:
            outcome = publish_batch_within(
                self.topic, [(e.message, self.subject(e.message)) for e in entries], self.time_left()
            )
        except (NoTimeToPublish, TopicUnreachable) as exc:
            self.stop(exc)
            return []
        except Exception:  # noqa: BLE001 - refused as a whole: each message on its own, to find the bad one
            return self.publish_each(entries)
        return [
            (entry, None if position in outcome.sent else BatchEntryRefused(outcome.refused.get(position)))
            for position, entry in enumerate(entries)
        ]

    def publish_each(self, entries: Sequence[Entry]) -> list[tuple[Entry, Optional[Exception]]]:
        done: list[tuple[Entry, Optional[Exception]]] = []
        for entry in entries:
            if self.sign.reason is not None:
                break
            try:
                publish_json_within(self.topic, entry.message, self.subject(entry.message), self.time_left())
            except (NoTimeToPublish, TopicUnreachable) as exc:
                self.stop(exc)
                break
            except Exception as exc:  # noqa: BLE001 - a refusal of this message: the others still go
                done.append((entry, exc))
                continue
            done.append((entry, None))
        return done

    def time_left(self) -> float:
        return self.publish_by - self.monotonic()

    def stop(self, exc: Exception) -> None:
        why = "publish deadline reached" if isinstance(exc, NoTimeToPublish) else "SNS did not answer"
        self.sign.stop(PublishingStopped(why), exc)


class BatchEntryRefused(Exception):
    """SNS refused one message of a batch (its code and reason), or gave no answer for it."""

    def __init__(self, reason: Optional[str]) -> None:
        super().__init__(reason or "SNS's answer named neither a success nor a failure for it")


def split(entries: Sequence[Entry]) -> list[list[Entry]]:
    """A round's entries as PublishBatch requests, within its entry and size limits."""
    sizes = [len(json.dumps(entry.message)) for entry in entries]
    return [[entries[i] for i in positions] for positions in batch_ranges(sizes)]


def warm_publisher(topic: str, seconds: float) -> None:
    """Fill what the first requests share before they start together: the SNS client and the
    topic's ARN (its account asked of STS). Those caches have no lock: PUBLISHERS threads
    missing one at once would each fill it, a client or a request each. A failure here is left
    to the requests to meet and report."""
    try:
        topic_arn(topic)
        quick_client(patience_for(seconds))
    except Exception:  # noqa: BLE001 - each request reports it (no time left too), and its message stays
        pass
