"""The daily digest's delivery, asked by `follow_up` every minute.

When `settings.digest`'s cron is due (`runbooks.schedule.due`: at most CATCH_UP_SECONDS late),
one conditional write claims that fire time (pk "digest", sk "last"), then the digest of the
period since the previous one goes to its channels, and to every channel whose limit folded
messages into it. A send that failed (or raised) releases the claim: the channels that did not
take it are tried again by the next follow_ups, MAX_ATTEMPTS in all, each retry claimed by a
conditional write on the record as it was read, so of two follow_ups retrying at once one
sends. A claim whose invocation died before it sent is taken over after STALE_CLAIM_SECONDS,
and the late invocation's record no longer lands. Exactly one digest per fire time reaches a
channel that takes it (twice at worst, when an invocation dies between the send and its record).

>>> DailyDigest(settings, IncidentStore(table), fan_out.send).send_due()  # doctest: +SKIP
{'digest': 'sent'}
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Optional

from aws_lambda_powertools import Logger

from chalicelib.aws import dynamodb
from chalicelib.config.model import Settings
from chalicelib.incidents.digest_notice import digest_notice
from chalicelib.runbooks.incident_store import IncidentStore
from chalicelib.runbooks.schedule import due

logger = Logger(service="autoheal", child=True)

PARTITION, KEY = "digest", "last"
DAY = 86400.0
MAX_ATTEMPTS = 5
STALE_CLAIM_SECONDS = 300.0


class DailyDigest:
    def __init__(
        self,
        settings: Settings,
        incidents: IncidentStore,
        send: Callable[..., list[str]],
        folded: Optional[Callable[[str, float, float], int]] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`send(notice, channels)` returns the channels that failed; `folded(channel, since,
        until)` counts what a channel's limit held back."""
        if settings.digest is None:
            raise ValueError("settings.digest: expected a digest to send")
        self.settings, self.digest = settings, settings.digest
        self.incidents, self.send, self.clock = incidents, send, clock
        self.folded = folded or (lambda channel, since, until: 0)
        self.table = settings.state_table

    def send_due(self) -> dict[str, Any]:
        now = self.clock()
        last = dynamodb.get(self.table, PARTITION, KEY)
        if last is not None and self.unfinished(last, now):
            claim = self.take_over(last, now)
            return {"digest": self.deliver(claim, now)} if claim else {}
        fired = due(self.digest.schedule, last["fired"] if last else None, now)
        if fired is None:
            return {}
        since = last["fired"] if last and fired - last["fired"] <= 2 * DAY else fired - DAY
        claim = {"pk": PARTITION, "sk": KEY, "fired": fired, "since": since, "claimed_at": now}
        claim.update(pending=list(self.digest.channels), attempts=0, sent=False, sending=True)
        if not dynamodb.put(self.table, claim, "attribute_not_exists(pk) OR fired < :f", {":f": fired}):
            return {}  # another follow_up claimed this fire time
        return {"digest": self.deliver(claim, now)}

    def unfinished(self, last: Mapping[str, Any], now: float) -> bool:
        """Channels still to take it, tried fewer than MAX_ATTEMPTS times, and not being tried
        right now by a live invocation."""
        attempts = int(last.get("attempts", 0))
        if last.get("sent") or attempts >= MAX_ATTEMPTS:
            return False
        sending = last.get("sending", attempts == 0)  # a record from before the flag: as it was
        return not sending or now - float(last["claimed_at"]) > STALE_CLAIM_SECONDS

    def take_over(self, last: Mapping[str, Any], now: float) -> Optional[dict[str, Any]]:
        """Claim a retry (or a dead invocation's send): written only over the record as it was
        read, so another follow_up that read the same record stands down. None when it lost."""
        claim = {**last, "claimed_at": now, "sending": True}
        values = {":f": last["fired"], ":c": last["claimed_at"], ":a": int(last.get("attempts", 0))}
        if not dynamodb.put(self.table, claim, "fired = :f AND claimed_at = :c AND attempts = :a", values):
            logger.info("another follow_up is sending the digest")
            return None
        return claim

    def deliver(self, claim: Mapping[str, Any], now: float) -> str:
        since, until = float(claim["since"]), float(claim["fired"])
        folded = {c: self.folded(c, since, until) for c in self.settings.notify}
        notice = digest_notice(self.incidents.recent(since), since, until, folded)
        channels = list(claim["pending"])
        if claim.get("attempts", 0) == 0:  # a channel whose messages were folded hears of them
            channels += [c for c, count in folded.items() if count and c not in channels]
        failed = self.sent_to(notice, channels) if notice is not None and channels else []
        record = {**claim, "pending": failed, "attempts": int(claim.get("attempts", 0)) + 1}
        record.update(sent=not failed, sending=False, claimed_at=now)
        # Only over our own claim: one taken over as stale is another invocation's now.
        mine = {":f": claim["fired"], ":c": claim["claimed_at"]}
        if not dynamodb.put(self.table, record, "fired = :f AND claimed_at = :c", mine):
            logger.warning("the digest's claim was taken over while it was sent")
        if notice is None:
            return "nothing happened"
        if failed:
            logger.warning("digest not taken", extra={"channels": failed})
            return f"failed: {', '.join(failed)}"
        return "sent"

    def sent_to(self, notice: Any, channels: list[str]) -> list[str]:
        """The channels that did not take it; a send that raises took it nowhere (retried)."""
        try:
            return self.send(notice, channels)
        except Exception:  # noqa: BLE001 - the claim is released for the next follow_up
            logger.exception("digest send failed")
            return list(channels)
