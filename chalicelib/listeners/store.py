"""Desired listener states in the state table (pk="listener", sk=listener ARN), each write
checked against the version it read, so no writer overwrites another's change unseen."""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from chalicelib.aws import dynamodb
from chalicelib.listeners.desired import Desired, from_item, to_item

PARTITION = "listener"


class StaleDesired(RuntimeError):
    """The desired state changed since it was read (a writer without the lease): read it again."""


class DesiredStore:
    """>>> DesiredStore("autoheal-state").get(listener_arn)  # doctest: +SKIP"""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def get(self, listener_arn: str) -> Optional[Desired]:
        item = dynamodb.get(self.table_name, PARTITION, listener_arn)
        return from_item(item) if item else None

    def all(self) -> list[Desired]:
        return [from_item(item) for item in dynamodb.query(self.table_name, PARTITION)]

    def save(self, desired: Desired) -> Desired:
        saved = replace(desired, version=desired.version + 1)
        item = {"pk": PARTITION, "sk": desired.listener_arn, **to_item(saved)}
        if desired.version == 0:
            written = dynamodb.put(self.table_name, item, "attribute_not_exists(pk)")
        else:
            written = dynamodb.put(self.table_name, item, "version = :v", {":v": desired.version})
        if not written:
            raise StaleDesired(f"listener {desired.name or desired.listener_arn} changed meanwhile")
        return saved
