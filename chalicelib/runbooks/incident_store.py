"""Incidents in DynamoDB (partition "incident", sort key = subject), written with a version check."""

from __future__ import annotations

from typing import Optional

from chalicelib.aws import dynamodb
from chalicelib.runbooks.incident import OPEN, Incident

PARTITION = "incident"
RESOLVED_KEPT_SECONDS = 91 * 86400  # history.html shows the last 90 days


class IncidentConflict(RuntimeError):
    """Someone else wrote the incident since we read it."""


class IncidentStore:
    """>>> store = IncidentStore("autoheal-state"); store.get("web")  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def get(self, key: str) -> Optional[Incident]:
        item = dynamodb.get(self.table_name, PARTITION, key)
        return Incident.from_item(item) if item is not None else None

    def needing_follow_up(self) -> list[Incident]:
        """Open incidents, and resolved ones holding a notice not yet sent."""
        from boto3.dynamodb.conditions import Attr

        found = dynamodb.query(self.table_name, PARTITION, Attr("follow_up").eq(True))
        return [Incident.from_item(item) for item in found]

    def recent(self, since: float) -> list[Incident]:
        """Incidents open now or opened or resolved since `since` (one Query of the partition;
        resolved ones are kept RESOLVED_KEPT_SECONDS)."""
        from boto3.dynamodb.conditions import Attr

        at = dynamodb.to_item(since)  # a Decimal, as boto3 wants numbers
        touched = Attr("status").eq(OPEN) | Attr("opened_at").gte(at) | Attr("resolved_at").gte(at)
        found = dynamodb.query(self.table_name, PARTITION, touched)
        return [Incident.from_item(item) for item in found]

    def save(self, incident: Incident) -> None:
        """Write if nobody else has since we read it (version check); bumps the version."""
        expected = incident.version
        incident.version += 1
        item = {**incident.to_item(), "pk": PARTITION, "sk": incident.key}
        item["follow_up"] = incident.status == OPEN or bool(incident.unsent)
        expires = incident.resolved_at + RESOLVED_KEPT_SECONDS if incident.resolved_at else None
        condition = "attribute_not_exists(pk) OR version = :v"
        if not dynamodb.put(self.table_name, item, condition, {":v": expected}, expires=expires):
            incident.version = expected
            raise IncidentConflict(f"incident {incident.key} changed since it was read")
