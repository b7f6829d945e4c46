"""Daily rollups in DynamoDB: one item per UTC day holding every monitor (partition "history").

90 days are one Query of 90 small items; a flush writes only the days it touched. The probe
is the only writer (its invocations never overlap), so a flush writes the merged day whole.
"""

from __future__ import annotations

from datetime import date
from typing import Iterable, Mapping

from chalicelib.aws import dynamodb
from chalicelib.statuspage.history import DayRollup

PARTITION = "history"
PREFIX = "day#"
TTL_DAYS = 100  # a little more than the page shows; DynamoDB's TTL removes older days


class HistoryStore:
    """>>> HistoryStore("autoheal-state").load("2025-01-01", "2025-03-31")  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def load(self, first_day: str, last_day: str) -> dict[str, dict[str, DayRollup]]:
        history: dict[str, dict[str, DayRollup]] = {}
        between = (PREFIX + first_day, PREFIX + last_day)
        for item in dynamodb.query(self.table_name, PARTITION, sk_between=between):
            day = str(item["sk"])[len(PREFIX) :]
            history[day] = {
                name: DayRollup.from_dict(day, data) for name, data in item.get("monitors", {}).items()
            }
        return history

    def save(self, history: Mapping[str, Mapping[str, DayRollup]], days: Iterable[str]) -> None:
        dynamodb.put_many(
            self.table_name,
            (
                {
                    "pk": PARTITION,
                    "sk": PREFIX + day,
                    "monitors": {name: r.to_dict() for name, r in history.get(day, {}).items()},
                    dynamodb.TTL_ATTRIBUTE: expires_at(day),
                }
                for day in sorted(set(days))
            ),
        )


def expires_at(day: str) -> int:
    """Epoch seconds TTL_DAYS after the day began: when DynamoDB may remove its rollup.

    >>> expires_at("1970-01-01")
    8640000
    """
    return (date.fromisoformat(day).toordinal() - date(1970, 1, 1).toordinal() + TTL_DAYS) * 86400
