"""What Lambda's SQS event source does, for the local world: receive, invoke, delete.

A batch goes to the handler as Lambda's event (`Records` in Lambda's shape). Messages the
handler names in its partial batch response (`batchItemFailures`), or all of the batch when
the handler raised or its process died, are not deleted: they become visible again after the
queue's visibility timeout, and the queue's redrive policy moves them to the dead-letter queue
after `maxReceiveCount` receives, as in AWS. Without `partial_responses` (an event source
mapping without ReportBatchItemFailures, as `chalice deploy` makes it) a returned response is
ignored: only a raised error keeps the batch.

>>> queue, dlq = shard_queues("autoheal-probe-shards", visibility=2)  # doctest: +SKIP
>>> SqsPoller(queue, handler).poll()                                  # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any, Callable

from chalicelib.aws.clients import client

Handler = Callable[[dict[str, Any]], Any]
MAX_RECEIVES = 3  # the template's redrive policy


def shard_queues(name: str, visibility: int = 30, max_receives: int = MAX_RECEIVES) -> tuple[str, str]:
    """The shard queue and its dead-letter queue (URLs), with the redrive policy."""
    sqs = client("sqs")
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)})
    attributes = {"VisibilityTimeout": str(visibility), "RedrivePolicy": redrive}
    queue = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return queue, dlq


def lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


class SqsPoller:
    def __init__(
        self, queue_url: str, handler: Handler, batch_size: int = 1, partial_responses: bool = True
    ) -> None:
        self.queue_url = queue_url
        self.handler = handler
        self.batch_size = batch_size
        self.partial_responses = partial_responses
        attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]

    def receive(self, wait: int = 0) -> list[dict[str, Any]]:
        """One batch, as Lambda's poller receives it (the message leaves view for the visibility timeout)."""
        answer = client("sqs").receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
        )
        return [lambda_record(m, self.queue_arn) for m in answer.get("Messages", [])]

    def deliver(self, records: list[dict[str, Any]]) -> list[str]:
        """Invoke the handler with `records`; delete what succeeded; returns the failed ids."""
        try:
            response = self.handler({"Records": records})
            answered = (response or {}).get("batchItemFailures", []) if self.partial_responses else []
            failed = [f["itemIdentifier"] for f in answered]
        except Exception:  # noqa: BLE001 - Lambda retries the whole batch
            failed = [r["messageId"] for r in records]
        for record in records:
            if record["messageId"] not in failed:
                client("sqs").delete_message(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"])
        return failed

    def poll(self, wait: int = 0) -> int:
        """Receive and deliver batches until the queue shows none; returns messages delivered."""
        delivered = 0
        while records := self.receive(wait):
            self.deliver(records)
            delivered += len(records)
        return delivered
