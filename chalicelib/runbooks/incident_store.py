"""Incidents in DynamoDB (partition "incident", sort key = subject), written with a version check."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Optional

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
        from boto3.dynamodb.conditions import Attr, Key

        incidents, kwargs = (
            [],
            {
                "KeyConditionExpression": Key("pk").eq(PARTITION),
                "FilterExpression": Attr("status").eq(OPEN),
            },
        )
        while True:
            page = table(self.table_name).query(**kwargs)
            incidents.extend(Incident.from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return incidents
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save(self, incident: Incident) -> None:
        """Write if nobody else has since we read it (version check); bumps the version."""
        expected = incident.version
        incident.version += 1
        item = json.loads(json.dumps(incident.to_item()), parse_float=Decimal)
        item.update({"pk": PARTITION, "sk": incident.key})
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
