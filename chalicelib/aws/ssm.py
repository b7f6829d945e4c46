"""SSM Run Command: send a fixed document and wait for its result without outliving the Lambda."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Optional, Sequence

from chalicelib.aws.clients import call_once, client

TERMINAL = {
    "Success",
    "Failed",
    "Cancelled",
    "TimedOut",
    "Undeliverable",
    "Terminated",
    "DeliveryTimedOut",
    "ExecutionTimedOut",
    "Cancelling",
}
OUTPUT_LIMIT = 500
MIN_DELIVERY_TIMEOUT = 30  # the least TimeoutSeconds SendCommand accepts


@dataclass(frozen=True)
class OutputBucket:
    """Where a command's agents keep its whole output: `s3://<bucket>/<prefix>/<command id>/...`."""

    bucket: str
    prefix: str = ""


@dataclass(frozen=True)
class InvocationResult:
    instance_id: str
    status: str  # an SSM status, or "Pending" when it had not finished in the time we had
    output: str = ""


def send_command(
    document: str,
    instance_ids: Sequence[str],
    parameters: Mapping[str, Sequence[str]],
    comment: str = "",
    max_concurrency: int = 1,
    output: Optional[OutputBucket] = None,
    delivery_timeout: int = 600,
) -> str:
    """Send `document` to the instances, at most `max_concurrency` at once and stopping at the
    first error; returns the CommandId. Sent once: never resent after a timeout.

    With `output`, each instance's agent also writes the command's whole output there (its
    instance profile's s3:PutObject, not ours). `delivery_timeout`: an instance that has not
    started the command by then never runs it (SSM's TimeoutSeconds, at least 30)."""
    extra = {}
    if output is not None:
        extra = {"OutputS3BucketName": output.bucket, "OutputS3KeyPrefix": output.prefix}
    response = call_once(
        "ssm",
        "send_command",
        DocumentName=document,
        InstanceIds=list(instance_ids),
        Parameters={key: list(values) for key, values in parameters.items()},
        Comment=comment[:100],
        TimeoutSeconds=max(MIN_DELIVERY_TIMEOUT, delivery_timeout),
        MaxConcurrency=str(max(1, max_concurrency)),
        MaxErrors="0",
        **extra,
    )
    return response["Command"]["CommandId"]


def output_key(
    output: OutputBucket, command_id: str, instance_id: str, step: str, stream: str = "stdout"
) -> str:
    """Where SSM's agent writes one stream of one step of an `aws:runShellScript` command.

    >>> output_key(OutputBucket("b", "diagnoses/web"), "c1", "i-1", "diagnose")
    'diagnoses/web/c1/i-1/awsrunShellScript/diagnose/stdout'
    """
    parts = (output.prefix.strip("/"), command_id, instance_id, "awsrunShellScript", step, stream)
    return "/".join(part for part in parts if part)


def find_command(token: str, sent_after: float) -> str | None:
    """The id of a command whose Comment carries `token`, sent after `sent_after` (epoch): how a
    run that died right after SendCommand finds what it sent instead of sending it again."""
    from datetime import UTC, datetime

    since = datetime.fromtimestamp(sent_after, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    paginator = client("ssm").get_paginator("list_commands")
    for page in paginator.paginate(Filters=[{"key": "InvokedAfter", "value": since}]):
        for command in page.get("Commands", []):
            requested = command.get("RequestedDateTime")
            if isinstance(requested, datetime) and requested.astimezone(UTC).timestamp() < sent_after:
                continue
            if token in (command.get("Comment") or ""):
                return command["CommandId"]
    return None


@dataclass(frozen=True)
class Backoff:
    """The pauses between polls of a command: short at first (a restart often ends within a
    second), then growing to `most`. The local world and tests hand in shorter ones.

    >>> list(zip(range(6), Backoff().pauses()))
    [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (5, 1.0)]
    """

    first: float = 0.1
    factor: float = 2.0
    most: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    def pauses(self) -> Iterator[float]:
        pause = self.first
        while True:
            yield min(pause, self.most)
            pause *= self.factor


def wait_for_invocations(
    command_id: str,
    instance_ids: Sequence[str],
    until: float,
    backoff: Optional[Backoff] = None,
) -> list[InvocationResult]:
    """Poll GetCommandInvocation per instance until each is terminal or `until` (monotonic) passes.

    The last poll is at `until`, not a pause before it: a diagnosis given 2 s gets 2 s, not 1."""
    backoff = backoff or Backoff()
    results: dict[str, InvocationResult] = {}
    for pause in backoff.pauses():
        for instance_id in instance_ids:
            if instance_id not in results or results[instance_id].status not in TERMINAL:
                results[instance_id] = fetch_invocation(command_id, instance_id)
        left = until - backoff.monotonic()
        if all(r.status in TERMINAL for r in results.values()) or left <= 0:
            break
        backoff.sleep(min(pause, left))
    return [results[i] for i in instance_ids]


def fetch_invocation(command_id: str, instance_id: str) -> InvocationResult:
    ssm = client("ssm")
    try:
        found = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
    except ssm.exceptions.InvocationDoesNotExist:
        return InvocationResult(instance_id, "Pending")  # right after SendCommand it may not exist yet
    output = (found.get("StandardOutputContent") or "") + (found.get("StandardErrorContent") or "")
    return InvocationResult(instance_id, found.get("Status", "Pending"), output[-OUTPUT_LIMIT:])
