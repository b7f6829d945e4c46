"""Per-channel rate limits (`settings.notify.sms.max_per_hour: 5`): past the limit, messages fold
into the daily digest, and the message that reaches the limit says so.

The count is one DynamoDB counter per channel and clock hour (UTC), taken with one atomic
conditional UpdateItem, so concurrent invocations never send more than the limit between them.
Fixed hours, not a sliding window: up to twice the limit can go out across an hour's turn
(5 at 10:59 and 5 at 11:00), the price of one write per message and no read.

Escalations, an exhausted budget, test messages and the digest itself always go out (they are
counted, so the limit still bounds everything else): a person must hear that autoheal gave up.
A counter that cannot be reached lets the message through: a limit never loses a message to an
AWS error.

>>> sms = SnsNotifier(arn, "sms")  # doctest: +SKIP
>>> RateLimited(sms, "sms", 5, HourlyCounts("autoheal-state")).send(notice)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable, Optional, Protocol

from aws_lambda_powertools import Logger

from chalicelib.notify.notice import ALWAYS_SENT, Notice
from chalicelib.notify.providers import Notifier

logger = Logger(service="autoheal", child=True)

PARTITION = "notify-rate"
HOUR = 3600
KEPT_SECONDS = 3 * 86400  # long enough for the digest to read what was folded


class Counts(Protocol):
    def take(self, channel: str, hour: int, limit: Optional[int]) -> Optional[int]:
        """Count one message; its number in the hour, or None when `limit` was already reached."""

    def fold(self, channel: str, hour: int) -> None:
        """Count one message held back."""

    def folded(self, channel: str, since: float, until: float) -> int:
        """Messages held back in the clock hours that begin in [since's hour, until's hour): each
        hour is counted by exactly one of two digests that follow each other."""


class HourlyCounts:
    """The counters in the state table: pk "notify-rate", sk "<channel>#<hour>" (epoch hours)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def take(self, channel: str, hour: int, limit: Optional[int]) -> Optional[int]:
        return self._add(channel, hour, "sent", limit)

    def fold(self, channel: str, hour: int) -> None:
        self._add(channel, hour, "folded")

    def _add(self, channel: str, hour: int, attribute: str, below: Optional[int] = None) -> Optional[int]:
        from chalicelib.aws import dynamodb

        expires = (hour + 1) * HOUR + KEPT_SECONDS
        return dynamodb.increment(self.table_name, PARTITION, key(channel, hour), attribute, below, expires)

    def folded(self, channel: str, since: float, until: float) -> int:
        from chalicelib.aws import dynamodb

        first, last = int(since // HOUR), int(until // HOUR)
        items = dynamodb.query(self.table_name, PARTITION, sk_prefix=f"{channel}#")
        return sum(int(i.get("folded", 0)) for i in items if first <= int(i["sk"].split("#")[1]) < last)


def key(channel: str, hour: int) -> str:
    return f"{channel}#{hour}"


def limit_note(channel: str, limit: int) -> str:
    return f"{channel} limit of {limit} an hour reached: more in the daily digest"


class RateLimited:
    """A channel's notifier behind its hourly limit; counts what it holds back for the digest."""

    def __init__(
        self,
        inner: Notifier,
        channel: str,
        max_per_hour: int,
        counts: Counts,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.inner, self.channel, self.limit = inner, channel, max_per_hour
        self.counts, self.now = counts, now

    def send(self, notice: Notice) -> Any:
        hour = int(self.now() // HOUR)
        exempt = notice.kind in ALWAYS_SENT
        try:
            number = self.counts.take(self.channel, hour, None if exempt else self.limit)
            if number is None:
                self.counts.fold(self.channel, hour)
                logger.info(
                    "notice folded into the digest",
                    extra={"channel": self.channel, "incident": notice.incident, "notice": notice.kind},
                )
                return True  # handled: the digest carries it
        except Exception as exc:  # noqa: BLE001 - the limit must never cost a message
            logger.warning("rate limit unavailable: sent", extra={"channel": self.channel, "error": str(exc)})
            number = None
        if number is not None and number >= self.limit:
            # The message that reaches the limit says so, whatever its kind; an urgent one past
            # it says so too, since the others of the hour are going to the digest.
            notice = replace(notice, note=limit_note(self.channel, self.limit))
        return self.inner.send(notice)
