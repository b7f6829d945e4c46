"""Deployments in the state table (pk="deployment", sk=name), written with a version check so
two invocations (advance and an alarm's rollback) never overwrite each other's move."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

from chalicelib.aws.clients import table
from chalicelib.deployments.model import Record, from_item, to_item

PARTITION = "deployment"


class Conflict(RuntimeError):
    """Another invocation changed the deployment since it was read: read it again."""


class DeploymentStore:
    """>>> DeploymentStore("autoheal-state").get("web")  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def get(self, name: str) -> Optional[Record]:
        item = (
            table(self.table_name)
            .get_item(Key={"pk": PARTITION, "sk": name}, ConsistentRead=True)
            .get("Item")
        )
        return from_item(item) if item else None

    def all(self) -> list[Record]:
        from boto3.dynamodb.conditions import Key

        records: list[Record] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(PARTITION), "ConsistentRead": True}
        while True:
            page = table(self.table_name).query(**kwargs)
            records += [from_item(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return records
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save(self, record: Record) -> Record:
        """Write `record` if nobody wrote since it was read; returns it with the new version."""
        dynamodb = table(self.table_name)
        saved = replace(record, version=record.version + 1)
        condition = "attribute_not_exists(pk)" if record.version == 0 else "version = :v"
        values = {} if record.version == 0 else {"ExpressionAttributeValues": {":v": record.version}}
        try:
            dynamodb.put_item(Item=to_item(saved), ConditionExpression=condition, **values)
        except dynamodb.meta.client.exceptions.ConditionalCheckFailedException:
            raise Conflict(f"deployment {record.name!r} changed meanwhile") from None
        return saved

    def replace_finished(self, record: Record, previous: Optional[Record]) -> Record:
        """Start a new deployment over a finished one (version carried on, so a race still fails)."""
        return self.save(replace(record, version=previous.version if previous else 0))
