"""Leases by conditional write, shared by every part of autoheal that must act alone.

A runbook leases each target it acts on (two alarms never restart one instance at once); a
blue/green shift leases its listener (two shifts never move one listener at once). A lease has a
short TTL that its holder renews while it lives, so a holder that died frees it soon.
"""

from __future__ import annotations

from typing import Optional

from chalicelib.aws import dynamodb

PARTITION = "lease"


class Leases:
    """>>> Leases("autoheal-state").acquire("i-0abc", owner="web", now=now, ttl=900)  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def acquire(self, target: str, owner: str, now: float, ttl: float) -> bool:
        """True when `owner` holds the lease now (a fresh one, an expired one, or its own)."""
        item = {"pk": PARTITION, "sk": target, "owner": owner, "expires_at": int(now + ttl)}
        return dynamodb.put(
            self.table_name,
            item,
            "attribute_not_exists(pk) OR expires_at < :now OR #o = :owner",
            {":now": int(now), ":owner": owner},
            {"#o": "owner"},
            expires=now + ttl + 3600,  # an hour past the lease: a late release still finds it
        )

    def renew(self, target: str, owner: str, now: float, ttl: float) -> bool:
        """Extend a lease `owner` still holds; False when it expired and someone else took it."""
        return self.acquire(target, owner, now, ttl)

    def holder(self, target: str) -> Optional[str]:
        """Who holds (or last held: it may have expired) the lease on `target`; None if nobody."""
        item = dynamodb.get(self.table_name, PARTITION, target)
        return str(item["owner"]) if item is not None else None

    def release(self, target: str, owner: str) -> None:
        """Give a lease back; one that is someone else's now (ours expired) is left alone."""
        dynamodb.delete(self.table_name, PARTITION, target, "#o = :owner", {":owner": owner}, {"#o": "owner"})
