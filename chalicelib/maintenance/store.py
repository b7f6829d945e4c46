"""Manual maintenance in DynamoDB (the project's table, partition "maintenance").

`current` holds the switch while it is on; `log` keeps the last ended maintenances for the
status page's history and the Atom feed; `in-effect` is there while maintenance (the switch or
a window) has been put into effect at the load balancer, so its end is seen exactly once.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from chalicelib.aws import dynamodb
from chalicelib.maintenance.mode import ManualMaintenance, from_dict, to_dict

PARTITION = "maintenance"
CURRENT, IN_EFFECT, LOG = "current", "in-effect", "log"  # the partition's three items
LOG_LENGTH = 50
SINCE_IS = "since = :since"  # the switch that began at that moment, not a later one


class MaintenanceStore:
    """>>> MaintenanceStore("autoheal-state").current()  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def current(self) -> Optional[ManualMaintenance]:
        item = dynamodb.get(self.table_name, PARTITION, CURRENT)
        return from_dict(item) if item else None

    def put(self, mode: ManualMaintenance) -> None:
        dynamodb.put(self.table_name, {"pk": PARTITION, "sk": CURRENT, **_millis(to_dict(mode))})

    def end(self, ended_at: float, expected_since: Optional[float] = None) -> Optional[ManualMaintenance]:
        """Remove the switch (only the one that began at `expected_since`, when given) and log it."""
        if expected_since is None:
            old = dynamodb.take(self.table_name, PARTITION, CURRENT)
        else:
            # None when switched again meanwhile: that one is not ours to end.
            old = dynamodb.take(self.table_name, PARTITION, CURRENT, SINCE_IS, _since(expected_since))
        if not old:
            return None
        ended = from_dict(old)
        self.append_log({**to_dict(ended), "ended": ended_at})
        return ended

    def discard(self, since: float) -> None:
        """Undo a `put` that could not take effect (no log entry: it never happened)."""
        dynamodb.delete(self.table_name, PARTITION, CURRENT, SINCE_IS, _since(since))

    def in_effect(self) -> bool:
        return dynamodb.get(self.table_name, PARTITION, IN_EFFECT) is not None

    def set_in_effect(self, message: Optional[str], now: float) -> None:
        """Record that maintenance is in effect (with its message), or with None that it is not."""
        if message is None:
            dynamodb.delete(self.table_name, PARTITION, IN_EFFECT)
        else:
            item = {"pk": PARTITION, "sk": IN_EFFECT, "message": message, "since": round(now, 3)}
            dynamodb.put(self.table_name, item)

    def log(self) -> list[dict]:
        item = dynamodb.get(self.table_name, PARTITION, LOG)
        return [_floats(entry) for entry in (item or {}).get("entries", [])]

    def append_log(self, entry: dict) -> None:
        entries = [entry, *self.log()][:LOG_LENGTH]
        dynamodb.put(self.table_name, {"pk": PARTITION, "sk": LOG, "entries": [_millis(e) for e in entries]})


def _since(value: float) -> dict[str, Any]:
    return {":since": round(value, 3)}


def _millis(data: Mapping[str, Any]) -> dict[str, Any]:
    """Times are kept to the millisecond."""
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in data.items()}


def _floats(data: Mapping[str, Any]) -> dict[str, Any]:
    """A log entry's numbers are times: floats, as they were written."""
    return {
        k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in data.items()
    }
