"""Manual maintenance in DynamoDB (the project's table, partition "maintenance").

`current` holds the switch while it is on; `log` keeps the last ended maintenances for the
status page's history and the Atom feed; `in-effect` is there while maintenance (the switch or
a window) has been put into effect at the load balancer, so its end is seen exactly once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from chalicelib.aws.clients import table
from chalicelib.maintenance.mode import ManualMaintenance, from_dict, to_dict

PARTITION = "maintenance"
LOG_LENGTH = 50


class MaintenanceStore:
    """>>> MaintenanceStore("autoheal-state").current()  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def current(self) -> Optional[ManualMaintenance]:
        item = table(self.table_name).get_item(Key={"pk": PARTITION, "sk": "current"}).get("Item")
        return from_dict(item) if item else None

    def put(self, mode: ManualMaintenance) -> None:
        table(self.table_name).put_item(Item={"pk": PARTITION, "sk": "current", **_numbers(to_dict(mode))})

    def end(self, ended_at: float, expected_since: Optional[float] = None) -> Optional[ManualMaintenance]:
        """Remove the switch (only the one that began at `expected_since`, when given) and log it."""
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {"Key": {"pk": PARTITION, "sk": "current"}, "ReturnValues": "ALL_OLD"}
        if expected_since is not None:
            kwargs["ConditionExpression"] = "since = :since"
            kwargs["ExpressionAttributeValues"] = {":since": _number(expected_since)}
        try:
            old = table(self.table_name).delete_item(**kwargs).get("Attributes")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None  # switched again meanwhile: that one is not ours to end
            raise
        if not old:
            return None
        ended = from_dict(old)
        self.append_log({**to_dict(ended), "ended": ended_at})
        return ended

    def discard(self, since: float) -> None:
        """Undo a `put` that could not take effect (no log entry: it never happened)."""
        from botocore.exceptions import ClientError

        try:
            table(self.table_name).delete_item(
                Key={"pk": PARTITION, "sk": "current"},
                ConditionExpression="since = :since",
                ExpressionAttributeValues={":since": _number(since)},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def in_effect(self) -> bool:
        item = table(self.table_name).get_item(Key={"pk": PARTITION, "sk": "in-effect"}, ConsistentRead=True)
        return "Item" in item

    def set_in_effect(self, message: Optional[str], now: float) -> None:
        """Record that maintenance is in effect (with its message), or with None that it is not."""
        key = {"pk": PARTITION, "sk": "in-effect"}
        if message is None:
            table(self.table_name).delete_item(Key=key)
        else:
            table(self.table_name).put_item(Item={**key, "message": message, "since": _number(now)})

    def log(self) -> list[dict]:
        item = table(self.table_name).get_item(Key={"pk": PARTITION, "sk": "log"}).get("Item")
        return [_plain(entry) for entry in (item or {}).get("entries", [])]

    def append_log(self, entry: dict) -> None:
        entries = [entry, *self.log()][:LOG_LENGTH]
        table(self.table_name).put_item(
            Item={"pk": PARTITION, "sk": "log", "entries": [_numbers(e) for e in entries]}
        )


def _number(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


def _numbers(data: dict) -> dict:
    return {k: _number(v) if isinstance(v, float) else v for k, v in data.items()}


def _plain(data: dict) -> dict:
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in data.items()}
