"""The fan-out's shards on loopback: cycle wall against its bound, peak RSS and descriptors per
worker, and what a monitor costs a month at 1-minute checks.

    python bench/probe_fanout_shards.py [--monitors 10000] [--timeout 1.0] [--ports 100] [--shards 0]
                                        [--model-timeout 5.0] [--model-retries 1]

Plans N monitors into shards (chalicelib.fanout.plan), 10% of them hanging past the timeout
(bench/fleet_servers.py's /hang), 7% answering at once until an outage makes them hang (/flip),
the rest at once; retries 0, so a shard's bound is one timeout. Each shard's worker runs in a
fresh child process pinned to the first core (the fleet has the second), with the shard's
engine (every monitor in flight at once), after importing the worker's modules and making the
boto3 clients it uses. A child measures a cold cycle, a warm one and a warm one right after a
fresh outage (each against the bound: one timeout), a cycle over its healthy monitors alone,
the CPU of each, its peak RSS (ru_maxrss), its peak open descriptors, and the size of the
shard's summary item. --shards K measures the first K shards only (0: all, one after another).

The cost model prices a month of 1-minute checks at the config's timeout and retries
(--model-timeout, --model-retries: the defaults, 5 s and 1), at the us-east-1 list prices
below. A worker's memory is the smallest Lambda size that holds its peak RSS with a quarter to
spare and gives it the CPU share (memory / 1,769 MB) to do a cycle's measured CPU within a
fifth of the bound. A shard's duration is its healthy cycle (stretched to its CPU at that
share) when all answer, and the bound times the measured ratio when 10% hang all month; both
are printed. The calls per shard and cycle are counted from the code (see `cost_model`); the
scheduler's own invocation is an assumption (1 s at 512 MB, the probe's size in prod), not measured here.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from anywhere: `import chalicelib`

from probe_fanout import pinned  # noqa: E402

from chalicelib.config.model import Expect, Monitor  # noqa: E402
from chalicelib.fanout.plan import SHARD_CAPACITY, plan_shards, worst_seconds  # noqa: E402
from chalicelib.probe.engine import BACKOFF  # noqa: E402

# us-east-1 list prices (2025): Lambda x86 per GB-s and per request, SQS standard per request
# (64 KiB chunks), DynamoDB on-demand per write and read request unit.
LAMBDA_GB_S = 0.0000166667
LAMBDA_REQUEST = 0.20 / 1e6
SQS_REQUEST = 0.40 / 1e6
DDB_WRITE = 0.625 / 1e6
DDB_READ = 0.125 / 1e6
MINUTES_A_MONTH = 30 * 24 * 60
LAMBDA_SIZES = (128, 256, 512, 1024, 1769)
FULL_VCPU_MB = 1769  # Lambda gives one vCPU at this memory, a proportional share below it
CPU_SHARE_OF_BOUND = 0.2  # a cycle's CPU may stretch it by this share of its bound at most
SCHEDULER_SECONDS, SCHEDULER_MB = 1.0, 512  # an assumption (prod's probe size): not measured here
IDLE_RECEIVES_A_MINUTE = 15  # Lambda's 5 pollers long-polling (20 s) an empty queue
STATE_ITEM_BYTES = 200  # a monitor's state item, for the scheduler's one Query a minute


def build_monitors(names: list[str], ports: list[int], timeout: float) -> list[Monitor]:
    expect = Expect(status=(200,), json={"status": "ok"})
    monitors = []
    for name in names:
        i = int(name.removeprefix("m"))
        path = "/hang" if i % 10 == 0 else "/flip" if i % 100 in range(1, 80, 11) else "/ok"
        url = f"http://127.0.0.1:{ports[i % len(ports)]}{path}?i={i}"
        monitors.append(Monitor(name=name, url=url, timeout=timeout, retries=0, expect=expect))
    return monitors


class PeakDescriptors:
    """Samples /proc/self/fd every 5 ms while a cycle runs."""

    def __init__(self) -> None:
        self.peak = 0
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, len(os.listdir("/proc/self/fd")))
            time.sleep(0.005)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return self.peak


def control(port: int, path: str) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: fleet\r\n\r\n".encode())
        sock.recv(4096)


def worker_child(args: argparse.Namespace) -> dict:
    """One shard's worker: the modules and clients it has, then three cycles."""
    import boto3

    import chalicelib.fanout.worker  # noqa: F401 - what probe_worker imports
    from chalicelib.fanout.summaries import pack
    from chalicelib.probe.engine import ProbeEngine

    for service in ("dynamodb", "sqs", "sns"):
        boto3.client(service, region_name="us-east-1")
    ports = [int(p) for p in args.ports_list.split(",")]
    monitors = build_monitors(args.names.split(","), ports, args.timeout)
    engine = ProbeEngine(workers=SHARD_CAPACITY)
    bound = args.timeout
    figures = {}
    descriptors = PeakDescriptors()
    for name in ("cold", "warm", "outage"):
        if name == "outage":
            control(ports[0], "/outage")
        start, cpu = time.monotonic(), time.process_time()
        results = engine.run(monitors, time.monotonic() + bound)
        wall = time.monotonic() - start
        figures[name] = {
            "wall": wall,
            "ratio": wall / bound,
            "cpu_s": time.process_time() - cpu,
            "probed": sum(1 for r in results if not r.skipped),
            "down": sum(1 for r in results if not r.ok and not r.skipped),
        }
        if name == "outage":
            control(ports[0], "/recover")
    healthy = [m for m in monitors if "/hang" not in m.url]
    start, cpu = time.monotonic(), time.process_time()
    engine.run(healthy, time.monotonic() + bound)
    figures["healthy"] = {"wall": time.monotonic() - start, "cpu_s": time.process_time() - cpu}
    figures["peak_fds"] = descriptors.stop()
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["summary_bytes"] = len(pack(results))
    figures["monitors"] = len(monitors)
    return figures


def start_fleet(args: argparse.Namespace) -> tuple[subprocess.Popen, list[int]]:
    command = [sys.executable, str(HERE / "fleet_servers.py"), "--ports", str(args.ports)]
    command += ["--hang", str(args.timeout + 2), "--lifetime", "3600"]
    fleet = subprocess.Popen(pinned(1) + command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return fleet, [int(p) for p in fleet.stdout.readline().split()[1:]]


def run_shard(args: argparse.Namespace, names: tuple[str, ...], ports: list[int]) -> dict:
    command = [sys.executable, __file__, "--child", "--names", ",".join(names)]
    command += ["--ports-list", ",".join(map(str, ports)), "--timeout", str(args.timeout)]
    done = subprocess.run(pinned(0) + command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode:
        raise SystemExit(f"shard child failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def lambda_memory(peak_mb: float, cpu_s: float, bound: float) -> int:
    """The smallest size with a quarter of headroom over the peak RSS and the CPU share to do
    `cpu_s` within CPU_SHARE_OF_BOUND of the bound."""
    needed = max(peak_mb * 1.25, FULL_VCPU_MB * cpu_s / (CPU_SHARE_OF_BOUND * bound))
    return next((size for size in LAMBDA_SIZES if needed <= size), LAMBDA_SIZES[-1])


def deployed_memory() -> int:
    """probe_worker's memory in the dev stage of .chalice/config.json."""
    config = json.loads((HERE.parent / ".chalice" / "config.json").read_text())
    return int(config["stages"]["dev"]["lambda_functions"]["probe_worker"]["lambda_memory_size"])


def cost_model(
    figures: list[dict], monitors: int, shards: int, bound: float, memory: int | None = None
) -> dict:
    """Dollars per monitor-month at 1-minute checks, from the measured shards, when every
    monitor answers and when 10% hang all month; at `memory`, or the least that fits."""
    cpu = max(max(f[n]["cpu_s"] for n in ("cold", "warm", "outage", "healthy")) for f in figures)
    memory = memory or lambda_memory(max(f["peak_rss_mb"] for f in figures), cpu, bound)
    share = min(1.0, memory / FULL_VCPU_MB)
    healthy = statistics.mean(max(f["healthy"]["wall"], f["healthy"]["cpu_s"] / share) for f in figures)
    hanging = bound * statistics.mean(f["warm"]["ratio"] for f in figures)
    summary_kb = statistics.mean(f["summary_bytes"] for f in figures) / 1024
    calls = {
        "lambda_requests": shards + 1,
        # sends in batches of 10 (billed per 64 KiB), one receive and one delete per message,
        # and Lambda's pollers on the queue when it is empty
        "sqs_requests": math.ceil(shards / 10) + 2 * shards + IDLE_RECEIVES_A_MINUTE,
        # an eventually consistent read of each monitor's state (BatchGetItem: half a unit),
        # the scheduler's consistent Query of the summaries and the states; one summary write
        # per shard (state changes are rare)
        "ddb_reads": monitors / 2
        + shards * math.ceil(summary_kb / 4)
        + math.ceil(monitors * STATE_ITEM_BYTES / 4096),
        "ddb_writes": shards * math.ceil(summary_kb + 0.2),
    }
    fixed = (
        calls["lambda_requests"] * LAMBDA_REQUEST
        + calls["sqs_requests"] * SQS_REQUEST
        + calls["ddb_reads"] * DDB_READ
        + calls["ddb_writes"] * DDB_WRITE
        + SCHEDULER_SECONDS * SCHEDULER_MB / 1024 * LAMBDA_GB_S
    )
    month = MINUTES_A_MONTH / monitors

    def total(seconds: float) -> dict:
        compute = shards * seconds * memory / 1024 * LAMBDA_GB_S
        return {
            "shard_seconds": seconds,
            "lambda": (compute + calls["lambda_requests"] * LAMBDA_REQUEST) * month,
            "sqs": calls["sqs_requests"] * SQS_REQUEST * month,
            "dynamodb": (calls["ddb_reads"] * DDB_READ + calls["ddb_writes"] * DDB_WRITE) * month,
            "total": (compute + fixed) * month,
        }

    return {
        "memory_mb": memory,
        "cpu_s": cpu,
        "calls": calls,
        "healthy": total(healthy),
        "hanging": total(hanging),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--ports", type=int, default=100)
    parser.add_argument("--shards", type=int, default=0, help="measure the first K shards (0: all)")
    parser.add_argument("--model-timeout", type=float, default=5.0, help="the cost model's monitor timeout")
    parser.add_argument("--model-retries", type=int, default=1, help="the cost model's retries")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--names", help=argparse.SUPPRESS)
    parser.add_argument("--ports-list", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(worker_child(args)))
        return
    plan = plan_shards([f"m{i}" for i in range(args.monitors)])
    shards = plan.shards[: args.shards or None]
    sizes = [len(s.monitors) for s in plan.shards]
    print(f"{args.monitors} monitors -> {len(plan.shards)} shards of {min(sizes)}-{max(sizes)} monitors")
    print(
        f"bound per shard cycle: {args.timeout:.2f} s (timeout x 1 attempt); 10% hang, 7% flip at the outage"
    )
    fleet, ports = start_fleet(args)
    figures = []
    try:
        for shard in shards:
            found = run_shard(args, shard.monitors, ports)
            figures.append(found)
            cycles = "  ".join(f"{n} {found[n]['ratio']:.2f}x" for n in ("cold", "warm", "outage"))
            print(
                f"shard {shard.index:3d}: {found['monitors']} monitors  {cycles}  "
                f"probed {found['warm']['probed']}/{found['monitors']}  "
                f"cpu {max(found[n]['cpu_s'] for n in ('cold', 'warm', 'outage')) * 1000:.0f} ms  "
                f"peak RSS {found['peak_rss_mb']:.0f} MB  peak fds {found['peak_fds']}  "
                f"summary {found['summary_bytes']} B"
            )
    finally:
        fleet.stdin.close()
        fleet.wait(timeout=10)
    worst = {n: max(f[n]["ratio"] for f in figures) for n in ("cold", "warm", "outage")}
    ratios = "  ".join(f"{name} {ratio:.2f}x" for name, ratio in worst.items())
    print(f"worst of {len(figures)} shards: {ratios}  (target <= 1.2x)")
    print(
        f"peak RSS per worker: max {max(f['peak_rss_mb'] for f in figures):.0f} MB (target <= 128 MB); "
        f"peak descriptors: max {max(f['peak_fds'] for f in figures)} (Lambda's limit 1,024)"
    )
    skipped = sum(f["monitors"] - f[n]["probed"] for f in figures for n in ("cold", "warm", "outage"))
    print(f"monitors not probed in a cycle: {skipped}")
    bound = worst_seconds(args.model_timeout, 1 + args.model_retries, BACKOFF)
    least = cost_model(figures, args.monitors, len(plan.shards), bound)
    print(
        f"cost model at timeout {args.model_timeout:g} s, retries {args.model_retries} "
        f"(bound {bound:.1f} s), {least['cpu_s'] * 1000:.0f} ms of CPU a shard cycle at most; per minute "
        + ", ".join(f"{k} {v:g}" for k, v in least["calls"].items())
    )
    models = [least]
    if deployed_memory() != least["memory_mb"]:  # the deployed size too, when it is not the least
        models.append(cost_model(figures, args.monitors, len(plan.shards), bound, deployed_memory()))
    for model in models:
        for case, label in (("healthy", "all answer"), ("hanging", "10% hang all month")):
            figures_ = model[case]
            parts = "  ".join(f"{k} {figures_[k]:.5f}" for k in ("lambda", "sqs", "dynamodb"))
            print(
                f"$ per monitor-month at {model['memory_mb']} MB, {label} ({figures_['shard_seconds']:.2f} s "
                f"a shard): {parts}  total {figures_['total']:.5f} (target <= 0.01)"
            )


if __name__ == "__main__":
    main()
