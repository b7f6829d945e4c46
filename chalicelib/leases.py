"""Leases by conditional write, shared by every part of autoheal that must act alone.

A runbook leases each target it acts on (two alarms never restart one instance at once); a
blue/green shift leases its listener (two shifts never move one listener at once). A lease has a
short TTL that its holder renews while it lives, so a holder that died frees it soon.
"""

from __future__ import annotations

import contextlib

from chalicelib.aws.clients import table

PARTITION = "lease"


class Leases:
    """>>> Leases("autoheal-state").acquire("i-0abc", owner="web", now=now, ttl=900)  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def acquire(self, target: str, owner: str, now: float, ttl: float) -> bool:
        """True when `owner` holds the lease now (a fresh one, an expired one, or its own)."""
        dynamodb = table(self.table_name)
        try:
            dynamodb.put_item(
                Item={
                    "pk": PARTITION,
                    "sk": target,
                    "owner": owner,
                    "expires_at": int(now + ttl),
                    "expiration": int(now + ttl + 3600),
                },
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR #o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":now": int(now), ":owner": owner},
            )
            return True
        except dynamodb.meta.client.exceptions.ConditionalCheckFailedException:
            return False

    def renew(self, target: str, owner: str, now: float, ttl: float) -> bool:
        """Extend a lease `owner` still holds; False when it expired and someone else took it."""
        return self.acquire(target, owner, now, ttl)

    def release(self, target: str, owner: str) -> None:
        dynamodb = table(self.table_name)
        # Someone else's now (ours expired): leave it alone.
        with contextlib.suppress(dynamodb.meta.client.exceptions.ConditionalCheckFailedException):
            dynamodb.delete_item(
                Key={"pk": PARTITION, "sk": target},
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": owner},
            )
