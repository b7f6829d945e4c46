"""The adapter's store helpers against moto in server mode: TTL on a put, batched puts, and a
delete that hands back what it removed exactly once."""

from __future__ import annotations

from typing import Any

from chalicelib.aws import dynamodb
from chalicelib.aws.clients import client, table
from sandbox.provision import create_table

TABLE = "adapter"
T = 1_900_000_000.0


def raw(pk: str, sk: str) -> dict[str, Any]:
    key = {"pk": {"S": pk}, "sk": {"S": sk}}
    return client("dynamodb").get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item", {})


def calls_to(operation: str) -> list[int]:
    calls: list[int] = []
    table(TABLE).meta.client.meta.events.register(
        f"before-call.dynamodb.{operation}", lambda **_: calls.append(1)
    )
    return calls


def test_a_put_with_expires_sets_the_ttl_attribute_in_whole_seconds(local_aws):
    create_table(TABLE)
    assert dynamodb.put(TABLE, {"pk": "p", "sk": "a", "at": T + 0.25}, expires=T + 3600.9)
    assert raw("p", "a")[dynamodb.TTL_ATTRIBUTE] == {"N": str(int(T + 3600))}
    assert dynamodb.get(TABLE, "p", "a") == {
        "pk": "p",
        "sk": "a",
        "at": T + 0.25,
        "expiration": int(T + 3600),
    }


def test_a_put_without_expires_has_no_ttl_attribute(local_aws):
    create_table(TABLE)
    dynamodb.put(TABLE, {"pk": "p", "sk": "a"})
    assert dynamodb.TTL_ATTRIBUTE not in raw("p", "a")


def test_a_conditional_put_with_expires_writes_nothing_when_the_condition_fails(local_aws):
    create_table(TABLE)
    assert dynamodb.put(TABLE, {"pk": "p", "sk": "a", "v": 1}, "attribute_not_exists(pk)", expires=T)
    assert not dynamodb.put(TABLE, {"pk": "p", "sk": "a", "v": 2}, "attribute_not_exists(pk)", expires=T + 9)
    assert raw("p", "a")["v"] == {"N": "1"} and raw("p", "a")["expiration"] == {"N": str(int(T))}


def test_put_many_writes_every_item_25_to_a_request(local_aws):
    create_table(TABLE)
    calls = calls_to("BatchWriteItem")
    items = [{"pk": "p", "sk": f"{i:03d}", "at": T + i / 8, "n": i} for i in range(60)]

    dynamodb.put_many(TABLE, iter(items))

    assert list(dynamodb.query(TABLE, "p")) == items  # floats and ints come back as written
    assert len(calls) == 3


def test_put_many_of_nothing_sends_nothing(local_aws):
    create_table(TABLE)
    calls = calls_to("BatchWriteItem")
    dynamodb.put_many(TABLE, [])
    assert calls == []


def test_take_returns_the_removed_item_once(local_aws):
    create_table(TABLE)
    dynamodb.put(TABLE, {"pk": "p", "sk": "a", "since": T + 0.5, "tags": ["x"]})

    assert dynamodb.take(TABLE, "p", "a") == {"pk": "p", "sk": "a", "since": T + 0.5, "tags": ["x"]}
    assert dynamodb.take(TABLE, "p", "a") is None  # a second taker gets nothing
    assert dynamodb.get(TABLE, "p", "a") is None


def test_take_with_a_condition_that_fails_removes_nothing(local_aws):
    create_table(TABLE)
    dynamodb.put(TABLE, {"pk": "p", "sk": "a", "since": T + 0.5})

    assert dynamodb.take(TABLE, "p", "a", "since = :s", {":s": T}) is None
    assert dynamodb.get(TABLE, "p", "a") == {"pk": "p", "sk": "a", "since": T + 0.5}
    assert dynamodb.take(TABLE, "p", "a", "since = :s", {":s": T + 0.5}) is not None
    assert dynamodb.get(TABLE, "p", "a") is None


def test_take_of_an_absent_item_with_a_condition_is_none(local_aws):
    create_table(TABLE)
    assert dynamodb.take(TABLE, "p", "gone", "attribute_exists(pk)") is None
    assert dynamodb.take(TABLE, "p", "gone") is None


def test_an_increment_with_expires_sets_the_ttl_attribute(local_aws):
    create_table(TABLE)
    assert dynamodb.increment(TABLE, "p", "c", "sent", below=2, expires=int(T)) == 1
    assert dynamodb.increment(TABLE, "p", "c", "sent", below=2, expires=int(T)) == 2
    assert dynamodb.increment(TABLE, "p", "c", "sent", below=2, expires=int(T)) is None
    assert raw("p", "c") == {
        "pk": {"S": "p"},
        "sk": {"S": "c"},
        "sent": {"N": "2"},
        "expiration": {"N": str(int(T))},
    }


def test_a_query_between_two_sort_keys_pages_through_them_in_order(local_aws):
    create_table(TABLE)
    big = "x" * 40_000  # 40 KB items: a 1 MB page holds about 25
    dynamodb.put_many(TABLE, [{"pk": "h", "sk": f"day#{d:03d}", "blob": big} for d in range(60)])
    dynamodb.put(TABLE, {"pk": "other", "sk": "day#010"})
    calls = calls_to("Query")

    found = [item["sk"] for item in dynamodb.query(TABLE, "h", sk_between=("day#005", "day#054"))]

    assert found == [f"day#{d:03d}" for d in range(5, 55)]
    assert len(calls) >= 2  # more than one page


def test_set_fields_creates_the_item_then_changes_only_what_it_names(local_aws):
    create_table(TABLE)
    dynamodb.set_fields(TABLE, "p", "a", {"at": T + 0.5})
    dynamodb.set_fields(TABLE, "p", "a", {"pending_at": T + 1.25, "note": "x"})
    assert dynamodb.get(TABLE, "p", "a") == {
        "pk": "p",
        "sk": "a",
        "at": T + 0.5,
        "pending_at": T + 1.25,
        "note": "x",
    }
