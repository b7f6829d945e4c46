"""Waiting for a command's result polls on a backoff the caller hands in: short at first, growing
to a cap, never sleeping past the caller's deadline (moto as SSM; the clock is the test's)."""

from __future__ import annotations

import pytest

from chalicelib.aws.clients import client
from chalicelib.aws.ssm import TERMINAL, Backoff, wait_for_invocations


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def sent_command() -> tuple[str, str]:
    """(command id, instance): a shell command sent to one moto instance."""
    ec2 = client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    sent = client("ssm").send_command(
        DocumentName="AWS-RunShellScript", InstanceIds=[instance], Parameters={"commands": ["true"]}
    )
    return sent["Command"]["CommandId"], instance


def test_an_unfinished_command_is_polled_sooner_at_first_then_at_the_cap_until_the_deadline(local_aws):
    command, _ = sent_command()
    clock = Clock()
    backoff = Backoff(first=0.1, factor=2.0, most=1.0, sleep=clock.sleep, monotonic=lambda: clock.now)

    # An instance the command has no invocation on yet: as right after SendCommand.
    [result] = wait_for_invocations(command, ["i-0123456789abcdef0"], 3.0, backoff)

    assert result.status == "Pending"  # it had not finished in the time there was
    # Growing pauses, the last one cut short so the last poll is at the deadline itself.
    assert clock.slept == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 0.5])
    assert clock.now == pytest.approx(3.0)


def test_a_finished_command_is_not_waited_for(local_aws):
    command, instance = sent_command()
    clock = Clock()
    backoff = Backoff(sleep=clock.sleep, monotonic=lambda: clock.now)

    [result] = wait_for_invocations(command, [instance], 30.0, backoff)

    assert result.status in TERMINAL
    assert clock.slept == []
