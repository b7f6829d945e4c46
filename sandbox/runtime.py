"""A stand-in for Lambda, EventBridge and SNS: fires the schedules, delivers the alarms topic.

Moto runs no Lambda and fires no alarm action, so this runs the Chalice handlers in-process,
each invocation in its own thread with a Lambda context that counts down its timeout, exactly
as Lambda would call them. Alarms reach `on_alarm` through an SQS queue subscribed to the
alarms topic (SNS -> SQS works in moto), wrapped back into the SNS event Lambda delivers.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Callable, Mapping, Optional

from chalice.local import LambdaContext

from chalicelib.aws.clients import client

SCHEDULED = ("probe", "follow_up")
TIMEOUTS_MS = {
    "probe": 75_000,
    "on_alarm": 900_000,
    "follow_up": 900_000,
    "shift_traffic": 60_000,
    "advance": 55_000,
}  # as in .chalice/config.json
# Lambda retries an asynchronous invocation (SNS's) that raised twice, about one and two minutes
# later; here a minute is the world's tick.
ASYNC_RETRY_TICKS = (1.0, 2.0)


@dataclass
class Invocation:
    function: str
    started: float
    result: Any = None
    error: Optional[str] = None


@dataclass
class Runtime:
    """>>> Runtime(app.app.handler_map, queue_url).start()  # doctest: +SKIP"""

    handlers: Mapping[str, Callable[[dict, Any], Any]]
    alarm_queue_url: str
    tick_seconds: float = 60.0
    on_result: Callable[[Invocation], None] = lambda invocation: None
    invocations: list[Invocation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        self.reporting = threading.Lock()  # held while `on_result` runs; see `stop`
        self.threads: list[threading.Thread] = []
        self.running: dict[str, threading.Thread] = {}

    # -- one invocation, as Lambda makes it ------------------------------------------------
    def invoke(self, function: str, event: dict) -> Invocation:
        context = LambdaContext(function, memory_size=256, max_runtime_ms=TIMEOUTS_MS.get(function, 60_000))
        invocation = Invocation(function, time.time())
        try:
            invocation.result = self.handlers[function](event, context)
        except Exception:  # noqa: BLE001 - Lambda would log it and move on; so do we
            invocation.error = traceback.format_exc(limit=5)
        self.invocations.append(invocation)
        with self.reporting:
            if not self.stopping.is_set():
                self.on_result(invocation)
        return invocation

    def invoke_async(self, function: str, event: dict) -> threading.Thread:
        thread = threading.Thread(target=self.invoke, args=(function, event), name=function, daemon=True)
        thread.start()
        return thread

    def deliver(self, event: dict, retries_left: int = len(ASYNC_RETRY_TICKS)) -> threading.Thread:
        """An SNS delivery to `on_alarm`: retried as Lambda retries an asynchronous invocation."""

        def attempt() -> None:
            if self.stopping.is_set():
                return
            invocation = self.invoke("on_alarm", event)
            if invocation.error and retries_left and not self.stopping.is_set():
                delay = ASYNC_RETRY_TICKS[len(ASYNC_RETRY_TICKS) - retries_left] * self.tick_seconds
                retry = threading.Timer(delay, self.deliver, args=(event, retries_left - 1))
                retry.daemon = True
                retry.start()

        thread = threading.Thread(target=attempt, name="on_alarm", daemon=True)
        thread.start()
        return thread

    # -- triggers ----------------------------------------------------------------------------
    def start(self) -> Runtime:
        for target in (self.schedule_loop, self.delivery_loop):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the triggers; the invocations in flight are not waited for (a world's end would wait
        on them: the demo's many worlds added up). They run on, their threads daemons, but report
        nothing more: what `on_result` writes to goes with the world (the CLI's log closes next)."""
        self.stopping.set()
        with self.reporting:  # a report under way ends first
            pass
        for thread in self.threads:
            thread.join(timeout)

    def schedule_loop(self) -> None:
        """Every tick, each scheduled function runs once (skipped while the last is still running,
        as a reserved concurrency of 1 would do)."""
        while not self.stopping.is_set():
            for function in SCHEDULED:
                previous = self.running.get(function)
                if previous is None or not previous.is_alive():
                    self.running[function] = self.invoke_async(function, scheduled_event(function))
            self.stopping.wait(self.tick_seconds)

    def delivery_loop(self) -> None:
        sqs = client("sqs")
        while not self.stopping.is_set():
            try:
                received = sqs.receive_message(
                    QueueUrl=self.alarm_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                )
            except Exception:  # noqa: BLE001 - the local AWS is going away at the end of a run
                if self.stopping.wait(0.5):
                    return
                continue
            for message in received.get("Messages", []):
                self.deliver(sns_event(json.loads(message["Body"])))
                sqs.delete_message(QueueUrl=self.alarm_queue_url, ReceiptHandle=message["ReceiptHandle"])


def scheduled_event(function: str) -> dict:
    """The EventBridge scheduled event Lambda receives."""
    return {
        "version": "0",
        "id": f"local-{time.time_ns()}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/autoheal-dev-{function}"],
        "detail": {},
    }


def drain_envelopes(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every SNS envelope waiting on a queue subscribed to a topic (raw delivery off), removed."""
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def sns_event(envelope: Mapping[str, Any]) -> dict:
    """An SNS notification as SQS received it -> the event SNS hands to a Lambda subscriber."""
    topic = envelope.get("TopicArn", "")
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:local",
                "Sns": {
                    "Type": envelope.get("Type", "Notification"),
                    "MessageId": envelope.get("MessageId", ""),
                    "TopicArn": topic,
                    "Subject": envelope.get("Subject"),
                    "Message": envelope.get("Message", ""),
                    "Timestamp": envelope.get("Timestamp", ""),
                    "SignatureVersion": envelope.get("SignatureVersion", "1"),
                    "Signature": envelope.get("Signature", ""),
                    "SigningCertUrl": envelope.get("SigningCertURL", ""),
                    "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
                    "MessageAttributes": envelope.get("MessageAttributes", {}),
                },
            }
        ]
    }
