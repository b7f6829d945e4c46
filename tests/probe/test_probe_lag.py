"""A timeout the probe's own stalled loop caused is `starved`: no verdict on the monitor.

The stall is real: a callback that blocks the probe loop, as a process short of CPU would stall
it, while a monitor waits on a socket that never answers.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from chalicelib.config.model import Monitor
from chalicelib.probe import ProbeEngine
from chalicelib.probe.lag import LoopLag, starved
from chalicelib.probe.loop import event_loop
from tests.probe.conftest import hang, read_request

pytestmark = pytest.mark.timeout(20)


def probe_with_stall(engine: ProbeEngine, monitors: list[Monitor], stall: float) -> list:
    """Run the monitors; `stall` seconds into it (0: no stall), block the probe loop for 0.6 s."""
    if stall:
        timer = threading.Timer(stall, lambda: event_loop().call_soon_threadsafe(time.sleep, 0.6))
        timer.start()
    return engine.run(monitors, time.monotonic() + 5)


def test_a_timeout_while_the_loop_stalled_is_starved_and_one_in_a_kept_time_is_not(engine, socket_server):
    hanging = socket_server(hang)
    url = f"http://127.0.0.1:{hanging.port}/healthz"
    [stalled] = probe_with_stall(engine, [Monitor(name="web", url=url, timeout=1.0, retries=0)], stall=0.2)
    assert (stalled.ok, stalled.reason, stalled.starved) == (False, "timeout after 1s", True)
    # 3 s: a loaded machine's own pauses stay well under the 0.75 s it takes
    [kept] = probe_with_stall(engine, [Monitor(name="web", url=url, timeout=3.0, retries=0)], stall=0)
    assert (kept.ok, kept.reason, kept.starved) == (False, "timeout after 3s", False)


def test_a_stall_at_the_very_end_of_the_budget_is_seen_by_the_timeouts_lateness(engine, socket_server):
    # The loop blocks just before the timeout falls due: the watch may not wake before it.
    hanging = socket_server(hang)
    monitor = Monitor(name="web", url=f"http://127.0.0.1:{hanging.port}/healthz", timeout=0.5, retries=0)
    [result] = probe_with_stall(engine, [monitor], stall=0.45)
    assert result.starved


def answer_late(conn: socket.socket) -> None:
    """Answers 200 after 0.3 s: while the probe's loop is stalled."""
    read_request(conn)
    time.sleep(0.3)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def test_a_monitor_answering_during_a_stall_is_up_not_starved(engine, socket_server):
    server = socket_server(answer_late)
    monitor = Monitor(name="web", url=f"http://127.0.0.1:{server.port}/healthz", timeout=2.0, retries=0)
    [result] = probe_with_stall(engine, [monitor], stall=0.1)
    assert (result.ok, result.starved) == (True, False)


def test_stalls_count_only_where_they_overlap_the_attempt():
    lag = LoopLag()
    lag.stalls = [(1.0, 1.5), (3.0, 3.2)]
    assert lag.stalled(0.0, 10.0) == pytest.approx(0.7)
    assert lag.stalled(1.25, 3.1) == pytest.approx(0.35)
    assert lag.stalled(2.0, 2.9) == 0.0


@pytest.mark.parametrize(
    ("budget", "lost", "expected"), [(2.0, 0.5, False), (2.0, 0.51, True), (0.5, 0.26, True)]
)
def test_starved_means_a_quarter_of_the_budget_and_at_least_a_quarter_second(budget, lost, expected):
    assert starved(budget, lost) is expected
