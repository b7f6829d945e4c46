"""Invoke a stage's functions through Lambda's Invoke API (deployed, or the local world's).

>>> Functions("dev").call("maintenance", {"action": "status"})  # doctest: +SKIP
{'mode': 'off', ...}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from autoheal_ops.stage import StageNames


class InvokeError(RuntimeError):
    pass


@dataclass
class Functions:
    stage: str
    client: Any = None

    def lambda_client(self) -> Any:
        if self.client is None:
            import boto3  # the operator's own credentials; AWS_ENDPOINT_URL_LAMBDA for the local world

            self.client = boto3.client("lambda")
        return self.client

    def call(self, function: str, payload: dict) -> Any:
        name = StageNames(self.stage).function(function)
        answer = self.lambda_client().invoke(FunctionName=name, Payload=json.dumps(payload).encode())
        body = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            raise InvokeError(
                f"{name} failed: {body.get('errorMessage') if isinstance(body, dict) else body}"
            )
        return body


# Where on_alarm's idempotency layer (Powertools, chalicelib.wiring) keeps each handled alarm
# state change, with the answer it gave: a redelivery of the same change gets that answer back.
IDEMPOTENCY_PK = "idempotency"
Record = tuple[str, int, str]  # status, expiration (epoch seconds), the answer as JSON


def idempotency_records(state_table: str, client: Any = None) -> dict[str, Record]:
    if client is None:
        import boto3

        client = boto3.client("dynamodb")
    records = {}
    for page in client.get_paginator("query").paginate(
        TableName=state_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": IDEMPOTENCY_PK}},
        ConsistentRead=True,
    ):
        for item in page["Items"]:
            status, expiration = item.get("status", {}).get("S", ""), item.get("expiration", {}).get("N", "0")
            records[item["sk"]["S"]] = (status, int(float(expiration)), item.get("data", {}).get("S", ""))
    return records


def replayed(before: dict[str, Record], after: dict[str, Record], answer: Any, now: float) -> list[str]:
    """The incidents whose part of on_alarm's answer came from a record already there: a state
    change handled before (within the records' lifetime) is answered from it and not acted on."""
    handled = answer.get("handled", []) if isinstance(answer, dict) else []
    written = [key for key, record in after.items() if before.get(key) != record]
    if len(written) >= len(handled):
        return []  # every alarm change in the sample was handled now
    stored = [
        json.loads(data)
        for key, (status, expiration, data) in before.items()
        if after.get(key) == before[key] and status == "COMPLETED" and expiration > now and data
    ]
    return [str(item.get("incident", "?")) for item in handled if isinstance(item, dict) and item in stored]


def call_sample(
    functions: Functions, function: str, payload: dict, state_table: Callable[[], str]
) -> tuple[Any, str | None]:
    """Invoke a sample; for on_alarm, also a note when the answer is a replay."""
    if function != "on_alarm":
        return functions.call(function, payload), None
    import time

    try:
        table = state_table()
        before = idempotency_records(table)
    except Exception as exc:  # noqa: BLE001 - the sample still runs; only the note is missing
        answer = functions.call(function, payload)
        return answer, f"note: could not read the state table to tell a replay ({type(exc).__name__})"
    answer = functions.call(function, payload)
    names = replayed(before, idempotency_records(table), answer, time.time())
    if not names:
        return answer, None
    return answer, (
        f"replayed (incident {', '.join(names)}): this alarm state change was handled before, so"
        " on_alarm answered from its idempotency record and did nothing again (records last 24 h);"
        " give the sample a new StateChangeTime to act again"
    )
