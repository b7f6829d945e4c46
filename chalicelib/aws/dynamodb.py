"""The one DynamoDB adapter: the single table's keys, paging, conditional writes, the TTL
attribute and Decimals.

Every store reads and writes the state table through it and declares its partition as a named
constant (`PARTITION = "..."`, see docs/state-table.md); domain models never see a Decimal, a key
or a ConditionExpression.

>>> put("autoheal-state", {"pk": "lease", "sk": "i-0abc"}, "attribute_not_exists(pk)")  # doctest: +SKIP
True
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping, Optional

from chalicelib.aws.clients import table

UNPROCESSED_ROUNDS = 5
TTL_ATTRIBUTE = "expiration"  # the table's TimeToLiveSpecification (epoch seconds)


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


BATCH_GET_LIMIT = 100  # keys per BatchGetItem request


def get_many(
    table_name: str, pk: str, sort_keys: Iterable[str], consistent: bool = True
) -> dict[str, dict[str, Any]]:
    """Items of one partition by sort key (BatchGetItem, consistent unless told otherwise: an
    eventually consistent read costs half; unprocessed keys asked again); absent keys are left
    out."""
    keys = list(dict.fromkeys(sort_keys))
    found: dict[str, dict[str, Any]] = {}
    # The Table resource's client (de)serialises attribute values, as the resource does.
    resource = table(table_name).meta.client
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request = {
            table_name: {
                "Keys": [{"pk": pk, "sk": sk} for sk in keys[start : start + BATCH_GET_LIMIT]],
                "ConsistentRead": consistent,
            }
        }
        for _ in range(UNPROCESSED_ROUNDS):
            answer = resource.batch_get_item(RequestItems=request)
            for raw in answer.get("Responses", {}).get(table_name, []):
                item = plain(raw)
                found[item["sk"]] = item
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise RuntimeError(f"{table_name}: BatchGetItem kept keys unprocessed")
    return found


def query(
    table_name: str,
    pk: str,
    filter_expression: Any = None,
    sk_prefix: Optional[str] = None,
    sk_between: Optional[tuple[str, str]] = None,
) -> Iterator[dict[str, Any]]:
    """Every item of a partition (or of its sort keys starting with `sk_prefix`, or from
    `sk_between[0]` to `sk_between[1]`, both included), page after page, in sort key order."""
    from boto3.dynamodb.conditions import Key

    condition = Key("pk").eq(pk)
    if sk_prefix is not None:
        condition = condition & Key("sk").begins_with(sk_prefix)
    if sk_between is not None:
        condition = condition & Key("sk").between(*sk_between)
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
    expires: Optional[float] = None,
) -> bool:
    """Write `item`; with a condition, False when it did not hold (nothing was written). With
    `expires` (epoch seconds), DynamoDB's TTL removes the item some time after then."""
    request = {"Item": to_item(_expiring(item, expires))}
    return _conditional(table(table_name).put_item, request, condition, values, names) is not None


def put_many(table_name: str, items: Iterable[Mapping[str, Any]]) -> None:
    """Write items unconditionally, 25 to a BatchWriteItem (unprocessed items are sent again)."""
    with table(table_name).batch_writer() as batch:
        for item in items:
            batch.put_item(Item=to_item(dict(item)))


def _expiring(item: Mapping[str, Any], expires: Optional[float]) -> dict[str, Any]:
    return {**item, TTL_ATTRIBUTE: int(expires)} if expires is not None else dict(item)


def increment(
    table_name: str,
    pk: str,
    sk: str,
    attribute: str,
    below: Optional[int] = None,
    expires: Optional[int] = None,
) -> Optional[int]:
    """Add one to a counter in one atomic UpdateItem and return its new value; with `below`, only
    while it is under that (None when it is not: nothing was written)."""
    request: dict[str, Any] = {
        "Key": {"pk": pk, "sk": sk},
        "UpdateExpression": "ADD #n :one" + (" SET #e = :expires" if expires else ""),
        "ExpressionAttributeNames": {"#n": attribute, **({"#e": TTL_ATTRIBUTE} if expires else {})},
        "ExpressionAttributeValues": {":one": 1, **({":expires": expires} if expires else {})},
        "ReturnValues": "UPDATED_NEW",
    }
    if below is not None:
        request["ConditionExpression"] = "attribute_not_exists(#n) OR #n < :below"
        request["ExpressionAttributeValues"][":below"] = below
    updating = table(table_name)
    try:
        answer = updating.update_item(**request)
    except updating.meta.client.exceptions.ConditionalCheckFailedException:
        return None
    return int(answer["Attributes"][attribute])


def set_fields(table_name: str, pk: str, sk: str, fields: Mapping[str, Any]) -> None:
    """Set some attributes of one item (created if absent), leaving the others as they are."""
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": to_item(value) for i, value in enumerate(fields.values())}
    table(table_name).update_item(
        Key={"pk": pk, "sk": sk},
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def delete(
    table_name: str,
    pk: str,
    sk: str,
    condition: Optional[str] = None,
    values: Optional[Mapping[str, Any]] = None,
    names: Optional[Mapping[str, str]] = None,
) -> bool:
    """Delete one item; with a condition, False when it did not hold (nothing was deleted)."""
    request = {"Key": {"pk": pk, "sk": sk}}
    return _conditional(table(table_name).delete_item, request, condition, values, names) is not None


def take(
    table_name: str,
    pk: str,
    sk: str,
    condition: Optional[str] = None,
    values: Optional[Mapping[str, Any]] = None,
    names: Optional[Mapping[str, str]] = None,
) -> Optional[dict[str, Any]]:
    """Delete one item and return what it held: None when there was none, or when the condition
    did not hold (nothing was deleted). Two takers never both get the same item."""
    request = {"Key": {"pk": pk, "sk": sk}, "ReturnValues": "ALL_OLD"}
    answer = _conditional(table(table_name).delete_item, request, condition, values, names)
    return plain(answer["Attributes"]) if answer and "Attributes" in answer else None


def _conditional(
    call: Any,
    request: dict[str, Any],
    condition: Optional[str],
    values: Optional[Mapping[str, Any]],
    names: Optional[Mapping[str, str]],
) -> Optional[dict[str, Any]]:
    """The call's answer, or None when its condition did not hold."""
    if condition:
        request["ConditionExpression"] = condition
    if values:
        request["ExpressionAttributeValues"] = to_item(dict(values))
    if names:
        request["ExpressionAttributeNames"] = dict(names)
    try:
        return dict(call(**request))
    except call.__self__.meta.client.exceptions.ConditionalCheckFailedException:
        return None
