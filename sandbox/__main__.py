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

from chalicelib.config import ConfigError
from sandbox.world import World


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="an autoheal YAML config")
    parser.add_argument("--tick", type=float, default=60.0, help="seconds between schedule firings")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with World(args.config, tick_seconds=args.tick) as world:
            for name, url in world.urls().items():
                print(f"{name}={url}" if name == "AWS_ENDPOINT_URL" else f"{name}: {url}", flush=True)
            world.runtime.on_result = report
            world.runtime.start()
            print("running; Ctrl-C to stop", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
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
            reason = monitor.get("reason") or ""
            print(f"probe {name}: {monitor.get('state')} {monitor.get('latency_ms')}ms {reason}", flush=True)
    else:
        print(f"{invocation.function}: {result}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
