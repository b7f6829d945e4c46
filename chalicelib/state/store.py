"""Monitor state in DynamoDB: one Query for every monitor, writes only for what changed.

Items live in the project's single table under the partition "monitor", one per monitor
(sort key = monitor name).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from chalicelib.aws.clients import table
from chalicelib.state.thresholds import MonitorState

PARTITION = "monitor"


class StateStore:
    """>>> store = StateStore("autoheal-state"); states = store.load()  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def load(self) -> dict[str, MonitorState]:
        from boto3.dynamodb.conditions import Key

        states: dict[str, MonitorState] = {}
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(PARTITION)}
        while True:
            page = table(self.table_name).query(**kwargs)
            for item in page.get("Items", []):
                states[str(item["sk"])] = from_item(item)
            if "LastEvaluatedKey" not in page:
                return states
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save(self, changed: Mapping[str, MonitorState]) -> None:
        """Write the changed states (batched; boto3 resends unprocessed items)."""
        if not changed:
            return
        with table(self.table_name).batch_writer() as batch:
            for name, state in changed.items():
                batch.put_item(Item=to_item(name, state))


def to_item(name: str, state: MonitorState) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": PARTITION,
        "sk": name,
        "status": state.status,
        "failures": state.failures,
        "successes": state.successes,
        "since": Decimal(str(round(state.since, 3))),
    }
    if state.reason:
        item["reason"] = state.reason[:500]
    return item


def from_item(item: Mapping[str, Any]) -> MonitorState:
    return MonitorState(
        status=str(item.get("status", "UNKNOWN")),
        failures=int(item.get("failures", 0)),
        successes=int(item.get("successes", 0)),
        since=float(item.get("since", 0)),
        reason=item.get("reason"),
    )
