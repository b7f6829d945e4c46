"""`python -m sandbox`: a missing file is said plainly; SIGTERM leaves nothing running."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Optional

import pytest

from sandbox.__main__ import StopSignal, probe_line
from tests.sandbox.conftest import run_sandbox_command
from tests.support.servers import SocketServer, hang

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """settings:
  {state_table: t-state, alarm_topic: autoheal-alarms, notify_topic: t-notify, status_bucket: t-status}
monitors: [{name: nothing, url: "tcp://127.0.0.1:9", kind: tcp, timeout: 500ms}]
"""


def test_a_missing_config_is_named_and_the_command_fails(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    done = run_sandbox_command(missing, timeout=30)
    assert done.returncode == 2
    assert done.stderr == f"{missing}: no such config file\n"
    assert done.stdout == ""


def test_sigterm_stops_the_world_and_its_local_aws(tmp_path: Path) -> None:
    config = tmp_path / "autoheal.yaml"
    config.write_text(CONFIG)
    process, lines = start_world(config, tmp_path)
    text = stop_world(process, lines, within=30)
    assert process.returncode == 0, text
    assert_local_aws_gone(text)
    assert "Traceback" not in text


def test_sigterm_stops_the_world_within_seconds_while_a_probe_waits_on_a_hung_monitor(tmp_path: Path) -> None:
    # The probe invocation in flight is abandoned, not waited for: its monitor answers after 20 s.
    probed = threading.Event()

    def hang_and_tell(conn: socket.socket) -> None:
        probed.set()
        hang(conn)

    hung = SocketServer(hang_and_tell)
    config = tmp_path / "autoheal.yaml"
    config.write_text(
        CONFIG.replace(
            '"tcp://127.0.0.1:9", kind: tcp, timeout: 500ms', f'"http://127.0.0.1:{hung.port}/", timeout: 20s'
        )
    )
    try:
        process, lines = start_world(config, tmp_path)
        assert probed.wait(20), "".join(lines)
        sent = time.monotonic()
        text = stop_world(process, lines, within=10)
        took = time.monotonic() - sent
    finally:
        hung.stop()
    assert process.returncode == 0, text
    assert took < 10, text
    assert_local_aws_gone(text)
    assert "Traceback" not in text


def start_world(config: Path, where: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """`python -m sandbox --config <config>`, ticking hourly (one probe, at once), read to "running"."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--config", str(config), "--tick", "3600", *private_files(where)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    for _ in range(200):  # the world prints a handful of lines, then "running"
        line = process.stdout.readline()
        lines.append(line)
        if not line or line.startswith("running"):
            break
    return process, lines


def stop_world(process: subprocess.Popen[str], lines: list[str], within: float) -> str:
    """SIGTERM, then everything it printed; killed if it outlives `within` seconds."""
    try:
        process.send_signal(signal.SIGTERM)
        lines.append(process.communicate(timeout=within)[0])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    return "".join(lines)


def assert_local_aws_gone(text: str) -> None:
    endpoint = re.search(r"^export AWS_ENDPOINT_URL=http://127\.0\.0\.1:(\d+)$", text, re.MULTILINE)
    assert endpoint, text
    with pytest.raises(OSError):  # the moto server went with it
        socket.create_connection(("127.0.0.1", int(endpoint.group(1))), timeout=2).close()


@pytest.mark.parametrize("at_line", range(1, 41))
def test_a_sigterm_handled_at_any_line_of_the_wait_ends_it(at_line: int) -> None:
    # Python runs a signal handler on the main thread between two lines of whatever it is running,
    # locks held or not: here the handler runs at the wait's `at_line`-th line (its callees' too).
    stop = StopSignal(poll=0.001)
    waiting = threading.Thread(target=traced, args=(stop.wait, stop, at_line), daemon=True)
    waiting.start()
    waiting.join(5)
    assert not waiting.is_alive(), f"the wait never ended: the handler ran at its line {at_line}"
    assert stop.received


def traced(
    wait: Callable[[], None], handler: Callable[[int, Optional[FrameType]], None], at_line: int
) -> None:
    """Run `wait`, calling `handler` as a SIGTERM would at the `at_line`-th line it executes."""
    lines = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        nonlocal lines
        if event == "line":
            lines += 1
            if lines == at_line:
                handler(signal.SIGTERM, frame)
        return trace

    sys.settrace(trace)
    try:
        wait()
    finally:
        sys.settrace(None)


@pytest.mark.parametrize(
    ("monitor", "line"),
    [
        ({"state": "UP", "latency_ms": 41.6, "reason": None}, "UP 42ms"),
        ({"state": "DOWN", "latency_ms": None, "reason": "connection refused"}, "DOWN connection refused"),
        ({"state": "DOWN", "latency_ms": 5000, "reason": "timeout after 5s"}, "DOWN 5000ms timeout after 5s"),
    ],
)
def test_probe_lines_show_latency_only_when_something_answered(monitor: dict, line: str) -> None:
    assert probe_line(monitor) == line


def private_files(where: Path) -> list[str]:
    """The env and log files in the test's own folder: a file left in the checkout would be
    read by every later `autoheal_ops` run there."""
    return ["--env-file", str(where / "local.env"), "--log", str(where / "local.log")]
