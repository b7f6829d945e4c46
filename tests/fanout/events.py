"""An SQS event as Lambda hands it to `probe_worker`: one shard message."""

from __future__ import annotations

import time
from typing import Any

from chalicelib.fanout.message import ShardMessage


def shard_event(
    monitors: tuple[str, ...], queue_arn: str, bound: float = 5.0, age: float = 0.0
) -> dict[str, Any]:
    """`age`: seconds since the message was due."""
    due = time.time() - age
    message = ShardMessage(due // 60 * 60, 0, 0, 1, due, due + bound, monitors)
    record = {
        "messageId": f"shard-{time.time_ns()}",
        "receiptHandle": "handle",
        "body": message.body(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
    return {"Records": [record]}
