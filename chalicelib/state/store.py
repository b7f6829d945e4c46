"""Monitor state in DynamoDB: one Query for every monitor, writes only for what changed.

Items live in the project's single table under the partition "monitor", one per monitor
(sort key = monitor name). Each item also holds the monitor's outbox: the alarm-shaped messages of
its transitions that SNS has not accepted yet, kept until it does (see monitoring.probe_run). The
probe holds each outbox to its limit as it adds to it (state.outbox), so the store writes every
message it is given and never drops one.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional, Sequence

from chalicelib.aws import dynamodb
from chalicelib.state.thresholds import MonitorState

PARTITION = "monitor"


class StateStore:
    """>>> store = StateStore("autoheal-state"); states = store.load()  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def load(self) -> dict[str, MonitorState]:
        return self.load_with_outbox()[0]

    def status(self, name: str) -> Optional[str]:
        """One monitor's last status (UP, DOWN, UNKNOWN), or None when none is recorded: one GetItem."""
        item = dynamodb.get(self.table_name, PARTITION, name)
        return str(item.get("status", "UNKNOWN")) if item is not None else None

    def load_with_outbox(self) -> tuple[dict[str, MonitorState], dict[str, list[dict[str, Any]]]]:
        """Every monitor's state and its unpublished messages, in one Query (paged)."""
        states: dict[str, MonitorState] = {}
        outbox: dict[str, list[dict[str, Any]]] = {}
        for item in dynamodb.query(self.table_name, PARTITION):
            states[str(item["sk"])] = from_item(item)
            if item.get("outbox"):
                outbox[str(item["sk"])] = [json.loads(m) for m in item["outbox"]]
        return states, outbox

    def save(
        self,
        changed: Mapping[str, MonitorState],
        outbox: Optional[Mapping[str, list[dict[str, Any]]]] = None,
    ) -> None:
        """Write the changed states with their outboxes (batched; boto3 resends unprocessed items)."""
        if not changed:
            return
        items = (to_item(name, state, (outbox or {}).get(name, [])) for name, state in changed.items())
        dynamodb.put_many(self.table_name, items)


def to_item(name: str, state: MonitorState, outbox: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": PARTITION,
        "sk": name,
        "status": state.status,
        "failures": state.failures,
        "successes": state.successes,
        "since": round(state.since, 3),
    }
    if state.reason:
        item["reason"] = state.reason[:500]
    if outbox:
        item["outbox"] = [json.dumps(message) for message in outbox]
    return item


def from_item(item: Mapping[str, Any]) -> MonitorState:
    return MonitorState(
        status=str(item.get("status", "UNKNOWN")),
        failures=int(item.get("failures", 0)),
        successes=int(item.get("successes", 0)),
        since=float(item.get("since", 0)),
        reason=item.get("reason"),
    )
