"""At most one publish of the site per second, across every container: one conditional write.

An item (partition "statuspage", sort key "publish") holds when the last publish began (`at`)
and when a change last found the second taken and left its publish for later (`pending_at`).
A container may begin a publish when `at` is at least `every` seconds ago; it writes the moment
it begins, so two containers racing for the same second cannot both win. A publish that begins
after `pending_at` shows that change; until one does, `pending()` is true (the probe checks it
every minute and publishes).
"""

from __future__ import annotations

from typing import Union

from chalicelib.aws import dynamodb

PARTITION, KEY = "statuspage", "publish"


class PublishGate:
    """>>> PublishGate("autoheal-state").claim(now=1750000000.0)  # doctest: +SKIP"""

    def __init__(self, table_name: str, every: float = 1.0) -> None:
        self.table_name = table_name
        self.every = every

    def claim(self, now: float) -> Union[bool, float]:
        """True when this caller may publish now; else when the last publish began."""
        item = {"pk": PARTITION, "sk": KEY, "at": now}
        condition = "attribute_not_exists(pk) OR #at <= :free"
        if dynamodb.put(self.table_name, item, condition, {":free": now - self.every}, {"#at": "at"}):
            return True
        found = dynamodb.get(self.table_name, PARTITION, KEY)
        return float(found["at"]) if found else now

    def stamp(self, now: float) -> None:
        """A publish begins now whatever the gate says (the probe's own, once a minute at most)."""
        dynamodb.set_fields(self.table_name, PARTITION, KEY, {"at": now})

    def defer(self, changed_at: float) -> None:
        """A change a later publish must show (the second was taken when it happened)."""
        dynamodb.set_fields(self.table_name, PARTITION, KEY, {"pending_at": changed_at})

    def pending(self) -> bool:
        """Whether a change waits for a publish that began after it."""
        found = dynamodb.get(self.table_name, PARTITION, KEY)
        if not found or "pending_at" not in found:
            return False
        return float(found["pending_at"]) >= float(found.get("at", 0))
