"""`python -m sandbox --config FILE`: bring the local world up for any config and keep it up.

Prints `export` lines a shell can `source` (the AWS endpoints, region, dummy keys, every variable
the config interpolates, the fleet's control ports) and writes them to `--env-file`, where
`python -m autoheal_ops` finds them. Then fires the schedules and delivers alarms until
interrupted; what each invocation returned goes to `--log`, not to the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any, Optional, TextIO

from chalicelib.config import ConfigError
from sandbox.world import World, export_lines

ENV_FILE = ".autoheal-local.env"
LOG_FILE = ".autoheal-local.log"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="an autoheal YAML config")
    parser.add_argument("--tick", type=float, default=60.0, help="seconds between schedule firings")
    parser.add_argument("--env-file", default=ENV_FILE, help="where the export lines are written")
    parser.add_argument("--log", default=LOG_FILE, help="where each invocation's result is written")
    args = parser.parse_args(argv)
    if not Path(args.config).is_file():
        print(f"{args.config}: no such config file", file=sys.stderr)
        return 2
    stop = StopSignal()
    signal.signal(signal.SIGTERM, stop)
    try:
        # The log opens first so it closes last: the runtime may report until the world stops.
        with open(args.log, "a") as log, World(args.config, tick_seconds=args.tick) as world:
            exports = export_lines(world.exports())
            Path(args.env_file).write_text(exports)
            print(exports, end="", flush=True)
            for name, url in world.urls().items():
                print(f"# {name}: {url}", flush=True)
            world.runtime.on_result = lambda invocation: report(invocation, log)
            world.runtime.start()
            print(f"running; `source {args.env_file}` in another shell; log in {args.log}; Ctrl-C to stop")
            sys.stdout.flush()
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


class StopSignal:
    """The SIGTERM handler, and the wait for it.

    Python runs a signal handler on the main thread between any two bytecodes, whatever that
    thread holds at the time. So the handler takes no lock: it only sets a flag, which `wait`
    polls. (Setting a threading.Event from it deadlocked when the signal was handled inside that
    Event's own `wait`, with its lock held: the world never stopped.) The poll is timed because
    the kernel may hand the signal to another thread, and then nothing wakes the main one.
    """

    def __init__(self, poll: float = 0.2) -> None:
        self.poll = poll
        self.received = False

    def __call__(self, signum: int, frame: Optional[FrameType]) -> None:
        self.received = True

    def wait(self) -> None:
        while not self.received:
            time.sleep(self.poll)


def report(invocation: Any, log: TextIO) -> None:
    if invocation.error:
        print(f"{invocation.function}: error\n{invocation.error}", file=log, flush=True)
        return
    result = invocation.result or {}
    if invocation.function == "probe":
        for name, monitor in result.get("monitors", {}).items():
            print(f"probe {name}: {probe_line(monitor)}", file=log, flush=True)
    else:
        print(f"{invocation.function}: {result}", file=log, flush=True)


def probe_line(monitor: dict) -> str:
    """ "UP 42ms", or "DOWN connection refused" when nothing answered (no latency to show)."""
    latency = monitor.get("latency_ms")
    parts = [str(monitor.get("state")), f"{latency:.0f}ms" if isinstance(latency, (int, float)) else ""]
    return " ".join(part for part in (*parts, monitor.get("reason") or "") if part)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
