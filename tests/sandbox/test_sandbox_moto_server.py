"""MotoServer: a real moto subprocess on 127.0.0.1 that is always stopped."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests

from sandbox.moto_server import MotoServer
from sandbox.ports import free_port


def test_free_port_is_bindable_on_loopback() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if the port were taken
    assert 1024 <= port <= 65535


def test_server_answers_and_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "a-profile-that-is-not-here")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with MotoServer() as aws:
        assert aws.endpoint_url.startswith("http://127.0.0.1:")
        aws.apply_env()
        assert os.environ["AWS_ENDPOINT_URL"] == aws.endpoint_url
        assert "AWS_PROFILE" not in os.environ
        boto3.client("sqs").create_queue(QueueName="q")  # env alone reaches moto
        assert requests.get(f"{aws.endpoint_url}/moto-api/", timeout=2).ok
        url = aws.endpoint_url
    assert not aws.is_running()
    assert "AWS_ENDPOINT_URL" not in os.environ  # the old environment is back
    assert os.environ["AWS_PROFILE"] == "a-profile-that-is-not-here"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/moto-api/", timeout=2)


def test_env_is_what_boto3_needs(aws: MotoServer) -> None:
    env = aws.env()
    assert env["AWS_ENDPOINT_URL"] == aws.endpoint_url
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"


def test_send_command_targets_only_the_given_instance(
    aws_client: Callable[[str], Any],
) -> None:
    # Unpatched moto 5.2.5 adds every EC2 instance to a command without Targets.
    ec2, ssm = aws_client("ec2"), aws_client("ssm")
    ids = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2)["Instances"]
    ]
    command = ssm.send_command(
        DocumentName="AWS-RunShellScript",
        InstanceIds=ids[:1],
        Parameters={"commands": ["true"]},
    )["Command"]
    assert command["InstanceIds"] == ids[:1]
    by_key = ssm.send_command(
        DocumentName="AWS-RunShellScript",
        Targets=[{"Key": "InstanceIds", "Values": ids[1:]}],
        Parameters={"commands": ["true"]},
    )["Command"]
    assert by_key["InstanceIds"] == ids[1:]


def test_dynamodb_writes_wait_for_each_other_in_the_patched_moto() -> None:
    """moto checks a write's condition and then writes with no lock between, on many threads: the
    patch makes each write wait for the one in progress, as DynamoDB's conditional writes do."""
    import contextlib
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    from sandbox import moto_server

    moto_server._patch_dynamodb_atomic_writes()
    done = threading.Event()

    def write() -> None:
        with contextlib.suppress(Exception):  # no backend behind it: only the waiting matters
            DynamoDBBackend.put_item(None, "t", {})  # type: ignore[arg-type]
        done.set()

    with moto_server.DYNAMODB_WRITE_LOCK:
        threading.Thread(target=write, daemon=True).start()
        assert not done.wait(0.3), "a write went ahead while another held the lock"
    assert done.wait(5)


def test_the_server_holds_motos_default_amis_only(aws_client: Callable[[str], Any]) -> None:
    # The per-region lists of the latest AMIs (thousands) are left out: reset re-parses them.
    from moto.utilities.utils import load_resource

    defaults = {ami["ami_id"] for ami in load_resource("ec2/resources/amis.json")}
    images = {image["ImageId"] for image in aws_client("ec2").describe_images()["Images"]}
    assert images == defaults and "ami-12c6146b" in images


def _transaction_table(items: int) -> Any:
    import boto3

    # moto in this process (the AWS endpoint: a local one another test set is not intercepted)
    endpoint = "https://dynamodb.us-east-1.amazonaws.com"
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    from sandbox.provision import create_table

    create_table("t", client)
    for i in range(items):
        client.put_item(TableName="t", Item={"pk": {"S": "p"}, "sk": {"S": f"i{i:05d}"}, "v": {"N": "0"}})
    return client


def _items_copied(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts each item moto deep-copies from now on."""
    from moto.dynamodb.models.dynamo_type import Item

    copied = [0]
    inner = Item.__deepcopy__

    def counted(self: Item, memo: dict[int, Any]) -> Item:
        copied[0] += 1
        return inner(self, memo)

    monkeypatch.setattr(Item, "__deepcopy__", counted)
    return copied


def test_a_failed_transaction_leaves_every_item_as_it_was_in_the_patched_moto() -> None:
    from moto import mock_aws

    from sandbox import moto_server

    moto_server._patch_dynamodb_atomic_writes()
    with mock_aws():
        client = _transaction_table(3)
        key = {"pk": {"S": "p"}, "sk": {"S": "i00001"}}
        writes = [
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "p"}, "sk": {"S": "new"}}}},
            {"Delete": {"TableName": "t", "Key": {"pk": {"S": "p"}, "sk": {"S": "i00000"}}}},
            {
                "Update": {
                    "TableName": "t",
                    "Key": key,
                    "UpdateExpression": "SET v = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": "t",
                    "Key": {"pk": {"S": "p"}, "sk": {"S": "i00002"}},
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            },
        ]
        with pytest.raises(client.exceptions.TransactionCanceledException):
            client.transact_write_items(TransactItems=writes)
        items = client.scan(TableName="t")["Items"]
        assert sorted((i["sk"]["S"], i["v"]["N"]) for i in items) == [(f"i{i:05d}", "0") for i in range(3)]
        client.transact_write_items(TransactItems=writes[:3])
        items = client.scan(TableName="t")["Items"]
        assert sorted((i["sk"]["S"], i.get("v", {}).get("N")) for i in items) == [
            ("i00001", "1"),
            ("i00002", "0"),
            ("new", None),
        ]


def test_a_transaction_copies_only_the_items_it_names_in_the_patched_moto(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto deep-copied every table a transaction wrote to (its rollback): a run of transactions
    grew with the square of the table. The patch copies the items the transaction names."""
    from moto import mock_aws

    from sandbox import moto_server

    moto_server._patch_dynamodb_atomic_writes()
    with mock_aws():
        client = _transaction_table(500)
        copied = _items_copied(monkeypatch)
        put = {"pk": {"S": "p"}, "sk": {"S": "new"}}
        client.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": put}}])
        assert copied[0] <= 2, f"{copied[0]} items copied for a transaction of one write"
        assert client.get_item(TableName="t", Key=put)["Item"] == put
