"""The last state change recorded per alarm: SNS neither orders nor deduplicates.

A state change older than the last one recorded for the same alarm changes nothing (an ALARM
delivered after its OK must not restart a healthy app). The same records tell whether every
signal of an incident is OK again, so an OK that arrived while a run was acting is honoured when
the run ends.

>>> AlarmLedger("autoheal-state").record("web-5xx", "OK", changed_at=1714597384.1)  # doctest: +SKIP
True
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional

from chalicelib.aws import dynamodb

PARTITION = "alarm"
KEPT_SECONDS = 30 * 86400


def change_time(text: str) -> Optional[float]:
    """CloudWatch's StateChangeTime (2024-05-01T21:03:04.123+0000) as epoch seconds, if it is one."""
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo else None


class AlarmLedger:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def record(self, name: str, state: str, changed_at: Optional[float], now: float) -> bool:
        """Record the change; False (nothing written) when a later one is on record already.

        The same change recorded again is accepted: a delivery retried after a failure must act."""
        at = changed_at if changed_at is not None else now
        item = {
            "pk": PARTITION,
            "sk": name,
            "state": state,
            "changed_at": at,
        }
        return dynamodb.put(
            self.table_name,
            item,
            "attribute_not_exists(pk) OR changed_at < :at OR (changed_at = :at AND #s = :state)",
            values={":at": at, ":state": state},
            names={"#s": "state"},
            expires=now + KEPT_SECONDS,
        )

    def is_new(self, name: str, changed_at: Optional[float]) -> bool:
        """Whether the change is later than the one on record: the same change delivered again,
        or an older one, is not. Without a time there is nothing to order by: new."""
        if changed_at is None:
            return True
        item = dynamodb.get(self.table_name, PARTITION, name)
        return item is None or float(item["changed_at"]) < changed_at

    def states(self, names: Iterable[str]) -> dict[str, str]:
        """The last recorded state of each alarm (absent when none is recorded)."""
        items = dynamodb.get_many(self.table_name, PARTITION, names)
        return {name: str(item["state"]) for name, item in items.items()}
