"""How long one probe cycle over many monitors takes, and how much memory it needs.

    python bench/probe_fanout.py [--monitors 1000] [--timeout 1.0] [--retries 0] [--workers N]

Starts bench/fleet_servers.py on 127.0.0.1 in a subprocess (its memory is not counted),
builds N monitors (10% hang past the timeout, 10% answer after 0.3 x timeout, the rest
at once), then in a fresh child process each measures:

- ProbeEngine.run over all N: wall time against the lower bound (timeout x attempts,
  set by the hanging monitors) and the child's peak RSS;
- a plain sequential loop of ProbeEngine.check over a sample, extrapolated to N.

Targets with the defaults: wall <= 1.2 x bound, peak RSS <= 128 MB. Loopback only;
every process stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from anywhere: `import chalicelib`

from chalicelib.config.model import Expect, Monitor  # noqa: E402
from chalicelib.probe import ProbeEngine, ProbeResult  # noqa: E402
from chalicelib.probe.engine import BACKOFF, DEFAULT_WORKERS  # noqa: E402

SLOW_FRACTION = 0.3  # /slow answers after this share of the timeout


def build_monitors(count: int, port: int, timeout: float, retries: int) -> list[Monitor]:
    """Every 10th hangs, every 10th (offset 5) is slow, the rest are healthy."""
    base = f"http://127.0.0.1:{port}"
    expect = Expect(status=(200,), json={"status": "ok"})
    monitors = []
    for i in range(count):
        path = {0: "/hang", 5: "/slow"}.get(i % 10, "/ok")
        monitors.append(
            Monitor(name=f"m{i}", url=f"{base}{path}?i={i}", timeout=timeout, retries=retries, expect=expect)
        )
    return monitors


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure(args: argparse.Namespace) -> dict:
    """Child process: one mode, printed as JSON."""
    count = args.monitors if args.mode == "run" else args.sample
    monitors = build_monitors(count, args.port, args.timeout, args.retries)
    engine = ProbeEngine(workers=args.workers)
    if args.mode == "run":
        # The very first cycle of a new deployment: nothing known, monitors start in config order.
        figures = {"first": timed(lambda d: engine.run(monitors, d), args)}
        # A cold container later on: a new engine seeded from the stored state (what was DOWN),
        # as the probe function does with the state it reads from DynamoDB.
        fresh = ProbeEngine(workers=args.workers)
        fresh.prefer(monitors, figures["first"].pop("down"))
        figures["cold"] = timed(lambda d: fresh.run(monitors, d), args)
        # A warm Lambda reuses the module-level engine: its pool and the last run's order.
        figures["warm"] = timed(lambda d: engine.run(monitors, d), args)
    else:
        figures = {"first": timed(lambda d: [engine.check(m, d) for m in monitors], args)}
    return {"count": count, "rss_mb": peak_rss_mb(), **figures}


def timed(probe: Callable[[float], list[ProbeResult]], args: argparse.Namespace) -> dict:
    deadline = time.monotonic() + 600  # never the limit here
    start, cpu = time.monotonic(), time.process_time()
    results = probe(deadline)
    wall, cpu = time.monotonic() - start, time.process_time() - cpu
    statuses = [r.as_dict()["status"] for r in results]
    counts = "/".join(str(statuses.count(s)) for s in ("up", "down", "skipped"))
    down = [r.monitor for r in results if not r.ok and not r.skipped]
    return {"wall": wall, "cpu": cpu, "counts": counts, "down": down}


def start_fleet(args: argparse.Namespace, hang: float) -> tuple[subprocess.Popen, int]:
    fleet = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "fleet_servers.py"),
            "--slow",
            str(SLOW_FRACTION * args.timeout),
            "--hang",
            str(hang),
            "--lifetime",
            "600",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = fleet.stdout.readline()  # "PORT <n>"
    return fleet, int(line.split()[1])


def child(args: argparse.Namespace, mode: str, port: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--mode",
        mode,
        "--port",
        str(port),
        "--monitors",
        str(args.monitors),
        "--timeout",
        str(args.timeout),
        "--retries",
        str(args.retries),
        "--workers",
        str(args.workers),
        "--sample",
        str(args.sample),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(args: argparse.Namespace, run: dict, seq: dict) -> None:
    bound = args.timeout * (args.retries + 1)
    scaled = seq["first"]["wall"] * args.monitors / seq["count"]
    print(
        f"monitors={args.monitors} timeout={args.timeout}s retries={args.retries} "
        f"workers={args.workers} cpus={os.cpu_count()}  (10% hang, 10% slow at {SLOW_FRACTION}x timeout)"
    )
    backoff = (
        f" (+{BACKOFF * args.retries:g}s of backoff between attempts, not counted)" if args.retries else ""
    )
    print(f"lower bound (timeout x attempts): {bound:.3f}s{backoff}")
    labels = {"first": "first cycle ever", "cold": "cold, stored state", "warm": "warm"}
    for name in ("first", "cold", "warm"):
        fig = run[name]
        print(
            f"engine.run {labels[name]:<18}: wall {fig['wall']:.3f}s  ratio {fig['wall'] / bound:.2f}  "
            f"cpu {fig['cpu']:.2f}s  up/down/skipped {fig['counts']}"
        )
    print(f"engine.run peak RSS: {run['rss_mb']:.1f} MB")
    fig = seq["first"]
    print(
        f"sequential loop: {seq['count']} monitors in {fig['wall']:.3f}s, peak RSS {seq['rss_mb']:.1f} MB"
        f" -> {args.monitors} monitors: {scaled:.1f}s (ratio {scaled / bound:.1f}), EXTRAPOLATED x"
        f"{args.monitors / seq['count']:g}, not measured"
    )
    for name in ("first", "cold", "warm"):
        met = run[name]["wall"] <= 1.2 * bound and run["rss_mb"] <= 128
        print(f"targets (wall <= 1.2 x bound, RSS <= 128 MB), {labels[name]}: {'met' if met else 'NOT met'}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--retries", type=int, default=0)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--sample", type=int, default=50, help="monitors in the sequential loop")
    parser.add_argument("--mode", choices=["run", "sequential"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.mode:
        print(json.dumps(measure(args)))
        return
    hang = args.timeout * (args.retries + 1) + 2  # past every attempt, then it ends
    fleet, port = start_fleet(args, hang)
    try:
        run = child(args, "run", port)
        seq = child(args, "sequential", port)
    finally:
        fleet.stdin.close()  # the fleet exits when its stdin closes
        fleet.wait(timeout=10)
    report(args, run, seq)


if __name__ == "__main__":
    main()
