"""The one DynamoDB adapter: the single table's keys, paging, conditional writes and Decimals.

Stores translate their items with it; domain models never see a Decimal or a ConditionExpression.

>>> put("autoheal-state", {"pk": "lease", "sk": "i-0abc"}, "attribute_not_exists(pk)")  # doctest: +SKIP
True
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Iterator, Mapping, Optional

from chalicelib.aws.clients import table


def to_item(value: Any) -> Any:
    """Floats become Decimals (DynamoDB's numbers); everything else passes through JSON."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def plain(value: Any) -> Any:
    """DynamoDB gives Decimals back; the models want ints and floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def get(table_name: str, pk: str, sk: str) -> Optional[dict[str, Any]]:
    found = table(table_name).get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True)
    return plain(found["Item"]) if "Item" in found else None


def query(
    table_name: str, pk: str, filter_expression: Any = None, sk_prefix: Optional[str] = None
) -> Iterator[dict[str, Any]]:
    """Every item of a partition (or of its sort keys starting with `sk_prefix`), page after page."""
    from boto3.dynamodb.conditions import Key

    condition = Key("pk").eq(pk)
    if sk_prefix is not None:
        condition = condition & Key("sk").begins_with(sk_prefix)
    kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ConsistentRead": True}
    if filter_expression is not None:
        kwargs["FilterExpression"] = filter_expression
    while True:
        page = table(table_name).query(**kwargs)
        for item in page.get("Items", []):
            yield plain(item)
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def put(
    table_name: str,
    item: Mapping[str, Any],
    condition: Optional[str] = None,
    values: Optional[Mapping[str, Any]] = None,
    names: Optional[Mapping[str, str]] = None,
) -> bool:
    """Write `item`; with a condition, False when it did not hold (nothing was written)."""
    dynamodb = table(table_name)
    kwargs: dict[str, Any] = {"Item": to_item(dict(item))}
    if condition:
        kwargs["ConditionExpression"] = condition
    if values:
        kwargs["ExpressionAttributeValues"] = to_item(dict(values))
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    try:
        dynamodb.put_item(**kwargs)
        return True
    except dynamodb.meta.client.exceptions.ConditionalCheckFailedException:
        return False


def delete(table_name: str, pk: str, sk: str) -> None:
    table(table_name).delete_item(Key={"pk": pk, "sk": sk})
