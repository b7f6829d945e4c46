"""Daily rollups in DynamoDB: one item per UTC day holding every monitor (partition "history").

90 days are one Query of 90 small items; a flush writes only the days it touched. The probe
is the only writer (its invocations never overlap), so a flush writes the merged day whole.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable, Mapping

from chalicelib.aws.clients import table
from chalicelib.statuspage.history import DayRollup

PARTITION = "history"
PREFIX = "day#"
TTL_DAYS = 100  # a little more than the page shows; DynamoDB's TTL removes older days


class HistoryStore:
    """>>> HistoryStore("autoheal-state").load("2025-01-01", "2025-03-31")  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def load(self, first_day: str, last_day: str) -> dict[str, dict[str, DayRollup]]:
        from boto3.dynamodb.conditions import Key

        history: dict[str, dict[str, DayRollup]] = {}
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(PARTITION)
            & Key("sk").between(PREFIX + first_day, PREFIX + last_day)
        }
        while True:
            page = table(self.table_name).query(**kwargs)
            for item in page.get("Items", []):
                day = str(item["sk"])[len(PREFIX) :]
                history[day] = {
                    name: DayRollup.from_dict(day, data) for name, data in item.get("monitors", {}).items()
                }
            if "LastEvaluatedKey" not in page:
                return history
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save(self, history: Mapping[str, Mapping[str, DayRollup]], days: Iterable[str]) -> None:
        from datetime import date

        with table(self.table_name).batch_writer() as batch:
            for day in sorted(set(days)):
                expires = (
                    date.fromisoformat(day).toordinal() - date(1970, 1, 1).toordinal() + TTL_DAYS
                ) * 86400
                batch.put_item(
                    Item={
                        "pk": PARTITION,
                        "sk": PREFIX + day,
                        "monitors": {name: r.to_dict() for name, r in history.get(day, {}).items()},
                        "expires_at": Decimal(expires),
                    }
                )
