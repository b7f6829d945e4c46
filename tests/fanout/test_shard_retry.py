"""A failed shard is retried even where the event source mapping lacks partial batch responses
(`chalice deploy` cannot set ReportBatchItemFailures; Lambda then ignores batchItemFailures and
deletes the message)."""

from __future__ import annotations

import time

import pytest

from chalicelib.aws.clients import client
from chalicelib.fanout.worker import ShardsFailed
from sandbox.sqs_poller import SqsPoller
from tests.fanout.test_fanout_world import Fanout, world  # noqa: F401 - a fixture


def dead_letters(fanout: Fanout) -> int:
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=fanout.dlq, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_a_failed_shard_comes_back_without_partial_batch_responses(world) -> None:  # noqa: F811
    fanout = Fanout(visibility=60)  # failed messages come back in seconds all the same
    poller = SqsPoller(
        fanout.queue,
        lambda event: fanout.worker.handle(event["Records"], time.monotonic() + 30),
        partial_responses=False,
    )
    client("dynamodb").delete_table(TableName="autoheal-state")  # every shard's state read fails
    fanout.schedule()
    shards, received = len(fanout.plan.shards), 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and dead_letters(fanout) < shards:
        records = poller.receive(wait=1)
        poller.deliver(records)
        received += len(records)
    # Each shard's message: received three times, then dead-lettered (its depth alarm pages).
    assert dead_letters(fanout) == shards and received == 3 * shards


def test_a_batch_with_one_good_message_keeps_the_partial_response(world) -> None:  # noqa: F811
    from tests.fanout.events import shard_event

    fanout = Fanout(visibility=60)
    arn = "arn:aws:sqs:us-east-1:123456789012:autoheal-probe-shards"
    good = shard_event(("a1",), arn, bound=2.0)["Records"]
    bad = [{**good[0], "messageId": "bad", "body": "{}"}]
    answer = fanout.worker.handle(bad + good, time.monotonic() + 30)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    with pytest.raises(ShardsFailed):
        fanout.worker.handle(bad, time.monotonic() + 30)
