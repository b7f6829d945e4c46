"""The local Lambda retries an SNS delivery that raised as Lambda does: twice, then gives up."""

from __future__ import annotations

import time

from sandbox.runtime import ASYNC_RETRY_TICKS, Runtime


def wait_for(condition, seconds: float = 5.0) -> None:
    ends = time.monotonic() + seconds
    while not condition() and time.monotonic() < ends:
        time.sleep(0.01)


def always_raises(event, context):
    raise RuntimeError("broken")


def test_a_delivery_that_raised_is_retried_until_it_succeeds():
    calls = []

    def on_alarm(event, context):
        calls.append(time.monotonic())
        if len(calls) < 2:
            raise RuntimeError("lost a race")
        return {"handled": 1}

    runtime = Runtime({"on_alarm": on_alarm}, "queue", tick_seconds=0.1)
    runtime.deliver({"Records": []})
    wait_for(lambda: len(runtime.invocations) == 2)
    time.sleep(0.3)  # no third call: the second succeeded
    assert [i.error is None for i in runtime.invocations] == [False, True]
    assert calls[1] - calls[0] >= ASYNC_RETRY_TICKS[0] * 0.1


def test_a_delivery_that_always_raises_is_tried_three_times_in_all():
    runtime = Runtime({"on_alarm": always_raises}, "queue", tick_seconds=0.05)
    runtime.deliver({"Records": []})
    wait_for(lambda: len(runtime.invocations) == 3)
    time.sleep(0.4)
    assert len(runtime.invocations) == 1 + len(ASYNC_RETRY_TICKS)


def test_no_retry_once_the_world_stops():
    runtime = Runtime({"on_alarm": always_raises}, "queue", tick_seconds=0.1)
    runtime.deliver({"Records": []})
    wait_for(lambda: len(runtime.invocations) == 1)
    runtime.stopping.set()
    time.sleep(0.5)
    assert len(runtime.invocations) == 1
