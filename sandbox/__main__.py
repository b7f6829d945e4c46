"""`python -m sandbox --config FILE`: bring the local world up for any config and keep it up.

Prints the AWS endpoint and the URLs it serves, then fires the schedules and delivers alarms
until interrupted. Point the AWS CLI or your own scripts at AWS_ENDPOINT_URL meanwhile.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path

from chalicelib.config import ConfigError
from sandbox.world import World


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="an autoheal YAML config")
    parser.add_argument("--tick", type=float, default=60.0, help="seconds between schedule firings")
    args = parser.parse_args(argv)
    if not Path(args.config).is_file():
        print(f"{args.config}: no such config file", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with World(args.config, tick_seconds=args.tick) as world:
            for name, url in world.urls().items():
                print(
                    f"{name}={url}" if name.startswith("AWS_ENDPOINT_URL") else f"{name}: {url}", flush=True
                )
            world.runtime.on_result = report
            world.runtime.start()
            print("running; Ctrl-C to stop", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                # A timed wait: an untimed Event.wait can sit in a lock acquire while the SIGTERM
                # handler waits for the main thread, and the world then never stops.
                while not stop.wait(0.5):
                    pass
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def report(invocation) -> None:
    if invocation.error:
        print(f"{invocation.function}: error\n{invocation.error}", flush=True)
        return
    result = invocation.result or {}
    if invocation.function == "probe":
        for name, monitor in result.get("monitors", {}).items():
            print(f"probe {name}: {probe_line(monitor)}", flush=True)
    else:
        print(f"{invocation.function}: {result}", flush=True)


def probe_line(monitor: dict) -> str:
    """ "UP 42ms", or "DOWN connection refused" when nothing answered (no latency to show)."""
    latency = monitor.get("latency_ms")
    parts = [str(monitor.get("state")), f"{latency:.0f}ms" if isinstance(latency, (int, float)) else ""]
    return " ".join(part for part in (*parts, monitor.get("reason") or "") if part)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
