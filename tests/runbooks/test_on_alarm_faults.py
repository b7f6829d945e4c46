"""A throttled read at the start of on_alarm loses nothing: the invocation fails before any side
effect, so Lambda delivers the event again, and that delivery acts once. Faults are injected with
a botocore hook on the real DynamoDB client, against moto in server mode."""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from chalicelib.aws.clients import table

THROTTLED = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "injected",
    }
).encode()


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


class Throttle:
    """Answers the next `times` requests of one DynamoDB operation with HTTP 400 and a throttling
    error, as DynamoDB does under load. It answers in place of the send, so botocore's own retry
    logic sees each answer, as it would DynamoDB's."""

    def __init__(self, operation: str, times: int) -> None:
        self.operation, self.left, self.seen = operation, times, 0

    def __call__(self, request: Any, **_: Any) -> Optional[AWSResponse]:
        self.seen += 1
        if self.left <= 0:
            return None  # sent to DynamoDB as usual
        self.left -= 1
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
        return AWSResponse(request.url, 400, headers, Body(THROTTLED))


def injected(world, operation: str, times: int) -> Throttle:
    fault = Throttle(operation, times)
    events = table(world.config.settings.state_table).meta.client.meta.events
    events.register(f"before-send.dynamodb.{operation}", fault, unique_id=f"throttle-{operation}")
    return fault


def remove(world, operation: str) -> None:
    events = table(world.config.settings.state_table).meta.client.meta.events
    events.unregister(f"before-send.dynamodb.{operation}", unique_id=f"throttle-{operation}")


def test_a_throttled_incident_read_fails_the_invocation_and_the_redelivery_acts_once(world, health):
    health.status = 503
    event = world.event("alarm-metric-alarm", message_id="throttled-1")
    fault = injected(world, "GetItem", times=8)  # more than botocore's retries
    try:
        with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
            world.on_alarm(event)
    finally:
        remove(world, "GetItem")
    assert fault.seen >= 4  # botocore retried the throttle before giving up
    assert world.commands() == []  # nothing acted...
    assert world.published() == []  # ...and nobody was told of a half-done incident

    handled = world.on_alarm(event)  # Lambda's retry of the same event

    assert [h["runbook"] for h in handled["handled"]] == ["restart-web"]
    commands = world.commands()
    assert len(commands) == 1 and commands[0]["InstanceIds"] == [world.instances["blue-1"]]
    assert "opened" in world.kinds()


def test_a_brief_throttle_is_absorbed_by_retries_and_acts_at_once(world, health):
    health.status = 503
    fault = injected(world, "GetItem", times=1)
    try:
        world.on_alarm(world.event("alarm-metric-alarm", message_id="throttled-2"))
    finally:
        remove(world, "GetItem")
    assert fault.seen >= 2
    assert len(world.commands()) == 1
