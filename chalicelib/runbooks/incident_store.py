"""Incidents in DynamoDB (partition "incident", sort key = subject), written with a version check."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Optional

from chalicelib.aws import dynamodb
from chalicelib.aws.clients import table
from chalicelib.runbooks.incident import OPEN, Incident

PARTITION = "incident"
RESOLVED_KEPT_SECONDS = 30 * 86400


class IncidentConflict(RuntimeError):
    """Someone else wrote the incident since we read it."""


class IncidentStore:
    """>>> store = IncidentStore("autoheal-state"); store.get("web")  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def get(self, key: str) -> Optional[Incident]:
        found = table(self.table_name).get_item(Key={"pk": PARTITION, "sk": key}, ConsistentRead=True)
        return Incident.from_item(found["Item"]) if "Item" in found else None

    def open_incidents(self) -> list[Incident]:
        from boto3.dynamodb.conditions import Attr

        return [
            Incident.from_item(i) for i in dynamodb.query(self.table_name, PARTITION, Attr("status").eq(OPEN))
        ]

    def needing_follow_up(self) -> list[Incident]:
        """Open incidents, and resolved ones holding a notice not yet sent."""
        from boto3.dynamodb.conditions import Attr

        found = dynamodb.query(self.table_name, PARTITION, Attr("follow_up").eq(True))
        return [Incident.from_item(item) for item in found]

    def save(self, incident: Incident) -> None:
        """Write if nobody else has since we read it (version check); bumps the version."""
        expected = incident.version
        incident.version += 1
        item = json.loads(json.dumps(incident.to_item()), parse_float=Decimal)
        item.update({"pk": PARTITION, "sk": incident.key})
        item["follow_up"] = incident.status == OPEN or bool(incident.unsent)
        if incident.resolved_at:
            item["expiration"] = int(incident.resolved_at + RESOLVED_KEPT_SECONDS)
        dynamodb = table(self.table_name)
        try:
            dynamodb.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR version = :v",
                ExpressionAttributeValues={":v": expected},
            )
        except dynamodb.meta.client.exceptions.ConditionalCheckFailedException:
            incident.version = expected
            raise IncidentConflict(f"incident {incident.key} changed since it was read") from None
