"""The whole single-invocation probe: the `probe` function's process, not just its engine.

    python bench/probe_invocation.py [--monitors 400 1000] [--timeout 1.0] [--profile]

Starts moto in server mode as AWS and bench/fleet_servers.py (100 keep-alive endpoints, on the
second core), provisions the stage's resources, then for each monitor count runs a fresh process
pinned to the first core (`taskset -c 0`) that does what a probe container does: imports `app`
(the handler module: the config is loaded and validated at import), builds the single `ProbeRun`
as `chalicelib.wiring` builds it (state store, the container's status site publishing to S3,
metrics, the maintenance question) and invokes it, one cycle an invocation:

- the first invocation ever (no stored state, no connection, no timing known);
- a warm invocation (every state stored, the pool and the start order kept);
- a warm invocation right after a fresh outage: 70 in 1,000 monitors it knows as quick start
  hanging, and with `failure_threshold: 1` each of them turns DOWN in that invocation (its
  state and outbox written, its alarm published to SNS, the status site rebuilt and uploaded).

Monitors as bench/probe_fanout.py builds them: 10% hang past the timeout, 10% answer after
0.3 x timeout, 7% answer at once until the outage; retries 0, so an invocation's lower bound
is the timeout. Above `chalicelib.fanout.plan.THRESHOLD` the wiring fans out; at 1,000 the
bench builds the single invocation anyway (what a config just over the threshold would cost
if it stayed single). Each figure is printed against its target with where the time went
(the engine, the state read and writes, SNS, the status site; calls that overlap, like the
outbox's publishers or the state read beside the probes, are each counted whole there, and
once in the wall time "in flight") and peak RSS (VmHWM) after the imports and at the end.
`--profile` adds the child's top functions (cProfile of the outage invocation) and
tracemalloc's top allocation sites. Loopback only; every process stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FLIP_SHARE = 0.07  # monitors that answer until the outage (bench/probe_fanout.py's 7 in 100)
TARGET_OUTAGE = 1.2  # x the bound
TARGET_RSS_MB = 128.0
COMPONENTS = 50  # the status page groups the monitors into this many components
ALARM_QUEUE = "autoheal-on-alarm"  # sandbox.provision's stand-in for on_alarm's subscription


def config_text(monitors: list[tuple[str, str]], timeout: float) -> str:
    """The stage's config: `monitors` as (name, url), thresholds of 1 so an outage publishes."""
    settings = (
        "settings: {state_table: autoheal-state, alarm_topic: autoheal-alarms, "
        "notify_topic: autoheal-notify, status_bucket: autoheal-status}\n"
    )
    lines = [
        f"  - {{name: {name}, component: c{i % COMPONENTS}, url: '{url}', timeout: {timeout}s, retries: 0,"
        f" failure_threshold: 1, success_threshold: 1, expect: {{status: [200], json: {{status: ok}}}}}}\n"
        for i, (name, url) in enumerate(monitors)
    ]
    return settings + "monitors:\n" + "".join(lines)


def fleet_monitors(count: int, ports: list[int]) -> list[tuple[str, str]]:
    """(name, url) as bench/probe_fanout.py's build_monitors: hang, slow, flip, ok."""
    found = []
    for i in range(count):
        path = {0: "/hang", 5: "/slow"}.get(i % 10, "/flip" if i % 100 in range(1, 80, 11) else "/ok")
        found.append((f"m{i}", f"http://127.0.0.1:{ports[i % len(ports)]}{path}?i={i}"))
    return found


def peak_mb() -> float:
    """ru_maxrss: on Linux it starts at the parent's peak (kept across fork and exec), so a
    child of a big process reads its parent's until it outgrows it; see `own_peak_mb`."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_peak_mb() -> float:
    """VmHWM: the peak resident memory of this process's own address space since its exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return peak_mb()


def control(port: int, path: str) -> None:
    """Tell the fleet to start or end the outage."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: fleet\r\n\r\n".encode())
        sock.recv(4096)


# -- the child: one probe container ------------------------------------------------------------
class Spent:
    """Wall time spent in named calls of the invocation (wrapped on the instances)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.lock = threading.Lock()  # the outbox's publishers add up from their threads

    def wrap(self, owner: object, attribute: str, label: str) -> None:
        inner = getattr(owner, attribute)

        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.monotonic()
            try:
                return inner(*args, **kwargs)
            finally:
                with self.lock:
                    self.seconds[label] = self.seconds.get(label, 0.0) + time.monotonic() - started

        setattr(owner, attribute, timed)

    def take(self) -> dict[str, float]:
        taken, self.seconds = self.seconds, {}
        return taken

    def count_aws_calls(self) -> None:
        """Every botocore call, by service and operation: (calls, seconds)."""
        from botocore.client import BaseClient

        inner = BaseClient._make_api_call
        calls = self.calls = {}

        def counted(client, operation, params):  # type: ignore[no-untyped-def]
            started = time.monotonic()
            try:
                return inner(client, operation, params)
            finally:
                name = f"{client.meta.service_model.service_name}:{operation}"
                ended = time.monotonic()
                with self.lock:
                    count, seconds = calls.get(name, (0, 0.0))
                    calls[name] = (count + 1, seconds + ended - started)
                    self.intervals.append((started, ended))

        self.intervals: list[tuple[float, float]] = []
        BaseClient._make_api_call = counted

    def take_calls(self) -> dict[str, tuple[int, float]]:
        taken = dict(self.calls)
        self.calls.clear()
        return taken

    def take_waited(self) -> float:
        """Seconds during which at least one AWS call was in flight (concurrent ones count once)."""
        waited, reached = 0.0, 0.0
        for started, ended in sorted(self.intervals):
            if ended > reached:
                waited += ended - max(started, reached)
                reached = ended
        self.intervals.clear()
        return waited


def single_run():  # -> ProbeRun, built as chalicelib.wiring.probe_run builds the single path
    from chalicelib import wiring
    from chalicelib.monitoring.probe_run import ProbeRun
    from chalicelib.vantage.build import build_gate

    config = wiring.config()
    gate = build_gate(config, wiring.probe_engine().run)
    maintenance = wiring.under_maintenance(tolerant=True)
    return ProbeRun(
        config, wiring.probe_engine(), wiring.state_store(), wiring.status_site(), maintenance, vantage=gate
    )


def instrument(run, spent: Spent) -> None:  # type: ignore[no-untyped-def]
    import chalicelib.monitoring.outbox_flush as outbox_flush
    import chalicelib.monitoring.probe_run as probe_run

    spent.count_aws_calls()  # the switch's reads are among the GetItems
    spent.wrap(run.engine, "run", "engine")
    spent.wrap(run.store, "load_with_outbox", "state read")
    spent.wrap(run.store, "save", "state writes")
    spent.wrap(run.site, "cycle", "status site")
    spent.wrap(outbox_flush, "publish_batch_within", "SNS (summed over the publishers)")
    spent.wrap(run, "flush_outbox", "outbox publishing (wall)")
    spent.wrap(probe_run, "emit_probe_metrics", "metrics")


def invocation(run, spent: Spent, label: str) -> dict:  # type: ignore[no-untyped-def]
    import contextlib
    import io

    logged = io.StringIO()
    started, cpu = time.monotonic(), time.process_time()
    with contextlib.redirect_stdout(logged):  # the function's JSON log lines, as Lambda ships them
        summary = run.invoke(time.monotonic() + 60)
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    statuses = [m["status"] for m in summary["monitors"].values()]
    figures = {
        "label": label,
        "wall": wall,
        "cpu": cpu,
        "spent": spent.take(),
        "aws_calls": spent.take_calls(),
        "aws_waited": spent.take_waited(),
        "alarms_delivered": alarms_taken(spent),
        "transitions": len(summary["transitions"]),
        "errors": summary["errors"],
        "down": statuses.count("down"),
        "probed": len(statuses) - statuses.count("skipped"),
        "peak_rss_mb": own_peak_mb(),
        "log_bytes": len(logged.getvalue()),
    }
    return figures


def alarms_taken(spent: Spent) -> int:
    """Take the alarms delivered to the queue standing in for `on_alarm`'s subscription, as
    on_alarm's invocations would, and count them. Left there, they would slow the next
    invocation's publishing: moto's SQS slows with each message a queue holds (a delivery took
    2.4 ms with the queue empty, 19 ms with 900 held). Its calls are not the invocation's."""
    from chalicelib.aws.clients import client
    from sandbox.runtime import drain_envelopes

    sqs = client("sqs")
    taken = drain_envelopes(sqs, sqs.get_queue_url(QueueName=ALARM_QUEUE)["QueueUrl"])
    spent.take_calls(), spent.take_waited()
    return len(taken)


def measure(args: argparse.Namespace) -> dict:
    """Child: imports, then the first, warm and fresh-outage invocations."""
    sys.path.insert(0, str(ROOT))
    before = own_peak_mb()
    import app  # noqa: F401 - the handler module, as Lambda's init imports it

    imported = own_peak_mb()
    from chalicelib import wiring
    from chalicelib.fanout.plan import plan_shards

    fans_out = plan_shards(m.name for m in wiring.config().monitors).fanned_out
    run = single_run() if fans_out else wiring.probe_run()
    spent = Spent()
    instrument(run, spent)
    control(args.control_port, "/recover")
    cycles = [invocation(run, spent, "first"), invocation(run, spent, "warm")]
    control(args.control_port, "/outage")
    profile = None
    if args.profile:
        profile = profiled(lambda: invocation(run, spent, "outage"))
        cycles.append(profile.pop("result"))
    else:
        cycles.append(invocation(run, spent, "outage"))
    control(args.control_port, "/recover")
    cycles.append(invocation(run, spent, "recovery"))
    return {
        "monitors": len(wiring.config().monitors),
        "wiring_fans_out": fans_out,
        "rss_before_import_mb": before,
        "rss_after_import_mb": imported,
        "cycles": cycles,
        "peak_rss_mb": own_peak_mb(),
        "ru_maxrss_mb": peak_mb(),
        "profile": profile,
    }


def profiled(call) -> dict:  # type: ignore[no-untyped-def]
    import cProfile
    import io
    import pstats
    import tracemalloc

    tracemalloc.start(8)
    profiler = cProfile.Profile()
    result = profiler.runcall(call)
    snapshot = tracemalloc.take_snapshot()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    sites = [str(stat) for stat in snapshot.statistics("lineno")[:12]]
    return {"result": result, "cprofile": out.getvalue(), "tracemalloc_peak_mb": peak / 2**20, "sites": sites}


# -- the parent: AWS, the fleet, one child per size -------------------------------------------
def run_child(args: argparse.Namespace, config: Path, env: dict[str, str], control_port: int) -> dict:
    from probe_fanout import pinned

    command = [sys.executable, __file__, "--child", "--control-port", str(control_port)]
    command += ["--profile"] * args.profile
    child_env = {**os.environ, **env, "AUTOHEAL_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(pinned(0) + command, env=child_env, capture_output=True, text=True, timeout=600)
    if proc.returncode:
        raise SystemExit(f"child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(figures: dict, bound: float) -> bool:
    forced = " (forced single: the wiring fans out)" if figures["wiring_fans_out"] else ""
    print(f"\n{figures['monitors']} monitors, one probe invocation{forced}")
    print(
        f"  peak RSS: {figures['rss_before_import_mb']:.1f} MB before imports, "
        f"{figures['rss_after_import_mb']:.1f} MB after `import app`, "
        f"{figures['peak_rss_mb']:.1f} MB at the end"
        f" (VmHWM; ru_maxrss {figures['ru_maxrss_mb']:.1f} MB, which starts at the parent's peak)"
    )
    for cycle in figures["cycles"]:
        parts = ", ".join(f"{k} {v:.3f}s" for k, v in sorted(cycle["spent"].items(), key=lambda kv: -kv[1]))
        calls = sorted(cycle["aws_calls"].items(), key=lambda kv: -kv[1][1])
        waited = cycle["aws_waited"]  # wall time with a call in flight: the publishers overlap
        count = sum(c for c, _ in cycle["aws_calls"].values())
        engine = cycle["spent"]["engine"]
        print(
            f"  {cycle['label']:<9} invocation {cycle['wall'] / bound:4.2f}x the bound, "
            f"{(cycle['wall'] - waited) / bound:4.2f}x with none of its {count} AWS calls in flight "
            f"(in flight {waited:.3f}s), "
            f"its probe cycle {engine / bound:4.2f}x  (CPU {cycle['cpu']:.3f}s; probed {cycle['probed']}, "
            f"down {cycle['down']}, transitions {cycle['transitions']}, alarms delivered "
            f"{cycle['alarms_delivered']}, errors {len(cycle['errors'])}; "
            f"peak RSS {cycle['peak_rss_mb']:.1f} MB)\n            time in: {parts}\n"
            "            AWS calls: " + ", ".join(f"{n} {c} ({t:.3f}s)" for n, (c, t) in calls)
        )
    outage = next(c for c in figures["cycles"] if c["label"] == "outage")
    checks = {
        f"the probe cycle after a fresh outage, inside the invocation, <= {TARGET_OUTAGE}x": outage["spent"][
            "engine"
        ]
        <= TARGET_OUTAGE * bound,
        f"the whole invocation after a fresh outage <= {TARGET_OUTAGE}x": outage["wall"]
        <= TARGET_OUTAGE * bound,
        f"peak RSS <= {TARGET_RSS_MB:.0f} MB": figures["peak_rss_mb"] <= TARGET_RSS_MB,
    }
    for name, met in checks.items():
        print(f"  target {name}: {'met' if met else 'NOT met'}")
    if figures["profile"]:
        profile = figures["profile"]
        print(f"  tracemalloc peak during the outage invocation: {profile['tracemalloc_peak_mb']:.1f} MB")
        print("  top allocation sites:\n    " + "\n    ".join(profile["sites"]))
        print(profile["cprofile"])
    return all(checks.values())


def keep_off_the_probe_core(moto) -> None:  # type: ignore[no-untyped-def]
    """AWS is not on the probe's core in production: moto shares the fleet's."""
    process = getattr(moto, "_process", None)
    if process is not None and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(process.pid, {1})


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, nargs="+", default=[400, 1000])
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--profile", action="store_true", help="cProfile and tracemalloc of the outage")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--control-port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.child:
        print(json.dumps(measure(args)))
        return 0
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    from probe_fanout import SLOW_FRACTION, start_fleet

    from chalicelib import wiring
    from sandbox.moto_server import MotoServer
    from sandbox.provision import provision

    fleet_args = argparse.Namespace(ports=100, timeout=args.timeout)
    fleet, ports, _ = start_fleet(fleet_args, None)
    results = []
    try:
        with MotoServer() as moto, tempfile.TemporaryDirectory() as tmp:
            moto.apply_env()
            keep_off_the_probe_core(moto)
            for count in args.monitors:
                moto.reset()
                path = Path(tmp) / f"probe-{count}.yaml"
                path.write_text(config_text(fleet_monitors(count, ports), args.timeout))
                os.environ["AUTOHEAL_CONFIG"] = str(path)
                wiring.reset()
                provision(wiring.config())
                results.append(run_child(args, path, moto.env(), ports[0]))
    finally:
        fleet.stdin.close()  # the fleet exits when its stdin closes
        fleet.wait(timeout=10)
    print(
        f"timeout {args.timeout}s, retries 0: the bound is {args.timeout:.3f}s; 10% hang, 10% slow at "
        f"{SLOW_FRACTION}x, {FLIP_SHARE:.0%} start hanging for the outage; probe on core 0, fleet on core 1"
    )
    met = [report(figures, args.timeout) for figures in results]
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
