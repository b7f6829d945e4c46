"""The `make demo` scenario, end to end, as a newcomer runs it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.sandbox.conftest import run_sandbox_command
from tests.sandbox.test_sandbox_command import private_files

ROOT = Path(__file__).resolve().parents[2]


def test_demo_heals_a_hang_the_budget_stops_a_hopeless_app_and_canaries_shift_or_roll_back():
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sandbox.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    elapsed = time.monotonic() - started
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert elapsed < 120
    order = [
        "all monitors UP",
        "blue-1 stops answering (hang)",
        "probe: web is DOWN",
        "ssm agent on blue-1: pm2 restart web -> ok",
        "on_alarm: verified: web, api healthy",
        "probe: web is UP again",
        "MTTR",
        "scenario 2",
        "restart did not help; escalated",
        "refused by the budget",
        "scenario 3: blue and green both down",
        "users see the maintenance page",
        "the instances recover",
        "front door: /healthz and /api/healthz answer 200",
        "front door: / is the app again",
        "scenario 4: canary",
        "moved by person (first step); read back: web-blue=90, web-green=10",
        "moved by schedule (step 2 of 3); read back: web-blue=50, web-green=50",
        "promoted by schedule (step 3 of 3); read back: web-blue=0, web-green=100",
        "scenario 5",
        "rolled back by monitor:green (green is DOWN); read back: web-blue=100, web-green=0",
        "broken v2 served",
    ]
    positions = [out.find(step) for step in order]
    assert -1 not in positions, out
    assert positions == sorted(positions), out
    mttr = float(re.search(r"MTTR (\d+\.\d)s", out).group(1))
    assert 0 < mttr < 30
    # The restart was PM2's own: a new pid and one more restart in its count.
    (pid, restarts), (new_pid, new_restarts) = re.findall(
        r"PM2 on blue-1: web pid (\d+), (\d+) restarts", out
    )[:2]
    assert new_pid != pid and int(new_restarts) == int(restarts) + 1, out
    # The tier goes one instance at a time (in instance-id order, random in moto), then blue-2 alone
    # until its budget is spent: three or four commands, never both instances at once.
    sent = int(re.search(r"SSM commands sent in scenario 2: (\d+)", out).group(1))
    assert 3 <= sent <= 4, out
    back = float(re.search(r"users back on the app (\d+\.\d)s after", out).group(1))
    assert 0 <= back < 20, out
    assert re.search(r"app: http://127\.0\.0\.1:\d+/  status page: http://127\.0\.0\.1:\d+/index\.html", out)
    assert "Traceback" not in done.stderr, done.stderr
    people = [line for line in out.splitlines() if "people notified" in line]
    assert sum("budget exhausted" in line for line in people) == 1
    assert "people notified: [autoheal] web recovered" in out
    # The broken canary: rolled back by on_alarm within seconds, and nothing reached it after.
    broken = re.search(
        r"broken v2 served (\d+) requests \((\d+\.\d)% .*rolled back (\d+\.\d)s after it failed; "
        r"last request it served (\d+\.\d)s after it failed",
        out,
    )
    assert broken, out
    share, to_rollback, to_last = (float(broken.group(i)) for i in (2, 3, 4))
    assert 0 < share < 50 and to_rollback < 15
    assert to_last <= to_rollback + 1.0  # the door stops sending to v2 once the listener says so
    assert '{"level"' not in out, "function logs belong in the log file, not the timeline"


def test_sandbox_command_brings_the_world_up_for_a_config_and_stops_on_signal(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--config",
            "chalicelib/configs/demo.yaml",
            *private_files(tmp_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("running"):
                break
        process.send_signal(signal.SIGTERM)
        lines.append(process.communicate(timeout=30)[0])  # keep reading: a full pipe would block it
    finally:
        if process.poll() is None:
            process.kill()
    text = "".join(lines)
    assert re.search(r"^export AWS_ENDPOINT_URL=http://127\.0\.0\.1:\d+$", text, re.MULTILINE), text
    assert re.search(r"^# blue-1: http://127\.0\.0\.1:\d+$", text, re.MULTILINE), text
    assert process.returncode == 0


def test_sandbox_command_rejects_a_bad_config_with_its_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("settings: {state_table: t}\n")
    done = run_sandbox_command(bad, timeout=60)
    assert done.returncode == 1
    assert "settings.alarm_topic: required" in done.stderr
