"""The local runtime's stop: prompt, whatever invocation is in flight, and the last word on reports."""

from __future__ import annotations

import io
import threading
import time

from sandbox.runtime import Invocation, Runtime


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
