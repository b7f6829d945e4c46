"""At most one publish of the site per second, across every container: one conditional write.

An item (partition "statuspage", sort key "publish") holds when the last publish began. A
container may begin one when that is at least `every` seconds ago; it writes the moment it
begins, so two containers racing for the same second cannot both win.
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
