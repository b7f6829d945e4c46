"""Stopping the local world: the runtime at once, whatever invocation is in flight, and its last
report before the stop; the local AWS within a second."""

from __future__ import annotations

import io
import socket
import threading
import time
from typing import Any

import pytest

from chalicelib.aws.clients import new_session
from sandbox.moto_server import MotoServer
from sandbox.runtime import Invocation, Runtime

REGIONS = (
    *("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1"),
    *("eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1"),
    *("ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2"),
)


def test_stop_returns_at_once_while_an_invocation_is_in_flight() -> None:
    # The demo stops a world after each scenario: waiting for a probe there adds up over its worlds.
    release = threading.Event()
    runtime = Runtime({"probe": lambda event, context: release.wait(30)}, "queue", tick_seconds=3600)
    in_flight = runtime.invoke_async("probe", {})
    began = time.monotonic()
    runtime.stop()
    took = time.monotonic() - began
    release.set()
    in_flight.join(5)
    assert took < 1.0
    assert [i.function for i in runtime.invocations] == ["probe"]


def test_an_invocation_that_ends_after_the_stop_is_not_reported() -> None:
    # What it reports to goes with the world: `python -m sandbox` closes its log right after the
    # stop, and a late write there raised in the invocation's thread, a traceback at exit.
    release = threading.Event()
    log = io.StringIO()
    reported: list[str] = []

    def report(invocation: Invocation) -> None:
        reported.append(invocation.function)
        print(invocation.function, file=log)

    handlers = {"probe": lambda event, context: {}, "on_alarm": lambda event, context: release.wait(30)}
    runtime = Runtime(handlers, "queue", tick_seconds=3600, on_result=report)
    runtime.invoke("probe", {})
    in_flight = runtime.invoke_async("on_alarm", {})
    runtime.stop()
    log.close()
    release.set()
    in_flight.join(5)
    assert not in_flight.is_alive()
    assert [i.function for i in runtime.invocations] == ["probe", "on_alarm"]  # it ran, and ended
    assert reported == ["probe"]


def test_the_local_aws_stops_promptly_and_cleanly() -> None:
    # Every world's stop (and so a SIGTERM to `python -m sandbox`) waits for it. moto's own exit
    # collected its whole heap first: 0.6 s for one this size, 2.5 s and more on a loaded machine;
    # it now ends at once (about 0.03 s). The bound is a hang's, not a benchmark's.
    aws = MotoServer().start()
    process = aws._process
    try:
        for region in REGIONS:  # an EC2 backend each, as big as a world's moto gets
            ec2_in(aws, region).describe_instances()
    finally:
        began = time.monotonic()
        aws.stop()
        took = time.monotonic() - began
    assert took < 2.0
    assert process is not None and process.returncode == 0  # its handler's exit, not a kill
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", aws.port), timeout=2).close()


def ec2_in(aws: MotoServer, region: str) -> Any:
    session = new_session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    return session.client("ec2", endpoint_url=aws.endpoint_url)
