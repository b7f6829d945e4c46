"""How long probe cycles over many monitors take, on how much CPU, memory and latency skew.

    python bench/probe_fanout.py [--monitors 1000] [--timeout 1.0] [--workers 256] [--ports 100]

Starts bench/fleet_servers.py (plain and HTTPS with an ECDSA certificate) on 127.0.0.1, pinned
to the second core, and builds N monitors over its independent endpoints: 10% hang past the
timeout, 10% answer after 0.3 x timeout, 7% answer at once until an "outage" makes them hang,
the rest answer at once. Retries 0. Each setup runs in a fresh child process pinned to the
first core (`taskset -c 0`) that measures, in order:

- the first cycle ever (fresh process: imports done, no connection, no timing known);
- a warm cycle (keep-alive pool and the last cycle's start order);
- a warm cycle right after a fresh outage (the 7% start hanging);
and prints wall time against the lower bound (the timeout), CPU per probe and the resident
memory the first cycle added over the imports. A last child measures the latency reported for
a sub-millisecond endpoint with 256 probes in flight; then the import of the probe's path is
timed against boto3 alone (as bench/cold_start.py does). Every figure of the targets is printed
with its ratio to the bound and whether it is met.

0.29 vCPU (a 512 MB Lambda) is a CPU quota on the probe's process: a cgroup with
cpu.cfs_quota_us / cpu.cfs_period_us = 5.8 ms / 20 ms when the cgroup tree is writable, else
a governor in this process that lets the child run 5.8 ms of every 20 ms (SIGCONT/SIGSTOP).
The bench prints which one it used. Loopback only; every process stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from anywhere: `import chalicelib`

from cold_start import SUBJECTS, import_seconds  # noqa: E402

from chalicelib.config.model import Expect, Monitor  # noqa: E402
from chalicelib.probe import ProbeEngine, ProbeResult  # noqa: E402
from chalicelib.probe.engine import DEFAULT_WORKERS  # noqa: E402

SLOW_FRACTION = 0.3  # /slow answers after this share of the timeout
PERIOD = 0.020  # the CPU quota's period, seconds
CGROUPS = (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup"))  # v1 cpu controller, v2 unified


def build_monitors(
    count: int, ports: list[int], scheme: str, timeout: float, ca: Optional[str]
) -> list[Monitor]:
    """Every 10th hangs, every 10th (offset 5) is slow, 7 in 100 flip, the rest are healthy."""
    expect = Expect(status=(200,), json={"status": "ok"})
    monitors = []
    for i in range(count):
        path = {0: "/hang", 5: "/slow"}.get(i % 10, "/flip" if i % 100 in range(1, 80, 11) else "/ok")
        port = ports[i % len(ports)]
        url = f"{scheme}://127.0.0.1:{port}{path}?i={i}"
        monitors.append(
            Monitor(name=f"m{i}", url=url, timeout=timeout, retries=0, expect=expect, ca_bundle=ca)
        )
    return monitors


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def control(port: int, path: str, secure: bool) -> None:
    """Tell the fleet to start or end the outage."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        sock = ssl._create_unverified_context().wrap_socket(raw) if secure else raw
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: fleet\r\n\r\n".encode())
        sock.recv(4096)


def timed(engine: ProbeEngine, monitors: list[Monitor]) -> tuple[dict, list[ProbeResult]]:
    start, cpu = time.monotonic(), time.process_time()
    results = engine.run(monitors, time.monotonic() + 600)  # the deadline is never the limit here
    wall, cpu = time.monotonic() - start, time.process_time() - cpu
    statuses = [r.status for r in results]
    counts = "/".join(str(statuses.count(s)) for s in ("up", "down", "skipped"))
    return {"wall": wall, "cpu_ms_per_probe": cpu * 1000 / len(monitors), "counts": counts}, results


def measure_cycles(args: argparse.Namespace) -> dict:
    """Child: first, warm, and warm-after-an-outage cycles."""
    ports = [int(p) for p in args.ports_list.split(",")]
    monitors = build_monitors(args.monitors, ports, args.scheme, args.timeout, args.ca)
    secure = args.scheme == "https"
    control(args.control_port, "/recover", secure)
    engine = ProbeEngine(workers=args.workers)
    if args.seeded:  # a cold container: the probe handler seeds the order from the stored state
        engine.prefer(monitors, [m.name for m in monitors if "/hang" in m.url])
    before = rss_mb()
    first, _ = timed(engine, monitors)
    added = rss_mb() - before
    warm, _ = timed(engine, monitors)
    control(args.control_port, "/outage", secure)
    outage, _ = timed(engine, monitors)
    control(args.control_port, "/recover", secure)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"first": first, "warm": warm, "outage": outage, "rss_added_mb": added, "peak_rss_mb": peak}


def measure_latency(args: argparse.Namespace) -> dict:
    """Child: latency reported for /ok (sub-millisecond) with `workers` probes in flight."""
    ports = [int(p) for p in args.ports_list.split(",")]
    expect = Expect(status=(200,), json={"status": "ok"})
    monitors = [
        Monitor(
            name=f"l{i}",
            url=f"http://127.0.0.1:{ports[i % len(ports)]}/ok",
            timeout=5.0,
            retries=0,
            expect=expect,
        )
        for i in range(args.workers)
    ]
    engine = ProbeEngine(workers=args.workers)
    figures = {}
    for name in ("first", "warm"):
        samples = []
        for _ in range(1 if name == "first" else 5):
            samples += [r.latency_ms for r in engine.run(monitors, time.monotonic() + 60) if r.ok]
        figures[name] = percentiles(samples)
    return figures


def percentiles(samples: list[float]) -> dict:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"n": len(samples), "p50": cuts[49], "p90": cuts[89], "p99": cuts[98]}


class Quota:
    """Holds one child process to `share` of a core: a cgroup if writable, else SIGSTOP/SIGCONT."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.cgroup = self._make_cgroup()
        self.method = (
            f"cgroup {self.cgroup.name}: quota {share * PERIOD * 1000:.1f} ms per {PERIOD * 1000:.0f} ms"
            if self.cgroup
            else f"SIGSTOP/SIGCONT governor: {share * PERIOD * 1000:.1f} ms of every {PERIOD * 1000:.0f} ms"
        )

    def _make_cgroup(self) -> Optional[Path]:
        for root in CGROUPS:
            path = root / f"autoheal-bench-{os.getpid()}"
            try:
                path.mkdir()
                if (path / "cpu.cfs_quota_us").exists():
                    (path / "cpu.cfs_period_us").write_text(str(int(PERIOD * 1e6)))
                    (path / "cpu.cfs_quota_us").write_text(str(int(self.share * PERIOD * 1e6)))
                else:
                    (path / "cpu.max").write_text(f"{int(self.share * PERIOD * 1e6)} {int(PERIOD * 1e6)}")
                return path
            except OSError:
                if path.is_dir():
                    path.rmdir()
        return None

    def preexec(self) -> None:
        """In the child before exec: join the cgroup, so imports are throttled too."""
        if self.cgroup:
            (self.cgroup / "cgroup.procs").write_text(str(os.getpid()))

    def govern(self, child: subprocess.Popen) -> None:
        if self.cgroup:
            return
        threading.Thread(target=self._duty_cycle, args=(child,), daemon=True).start()

    def _duty_cycle(self, child: subprocess.Popen) -> None:
        run, rest = self.share * PERIOD, (1 - self.share) * PERIOD
        while child.poll() is None:
            try:
                os.kill(child.pid, signal.SIGCONT)
                time.sleep(run)
                os.kill(child.pid, signal.SIGSTOP)
                time.sleep(rest)
            except ProcessLookupError:
                return
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGCONT)

    def close(self) -> None:
        if self.cgroup:
            self.cgroup.rmdir()


def import_ratio(runs: int) -> tuple[float, float]:
    """Median import of the probe's path and of boto3 alone, in fresh processes, interleaved."""
    subjects = {name: SUBJECTS[name] for name in ("boto3", "probe path alone")}
    for statement in subjects.values():
        import_seconds(statement)  # warm the bytecode cache, as a deployed package ships .pyc-ready code
    times: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(runs):
        for name, statement in subjects.items():
            times[name].append(import_seconds(statement))
    return statistics.median(times["probe path alone"]), statistics.median(times["boto3"])


def pinned(core: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > core:
        return ["taskset", "-c", str(core)]
    return []


def start_fleet(
    args: argparse.Namespace, tls_dir: Optional[str]
) -> tuple[subprocess.Popen, list[int], Optional[str]]:
    command = [sys.executable, str(HERE / "fleet_servers.py"), "--ports", str(args.ports)]
    command += [
        "--slow",
        str(SLOW_FRACTION * args.timeout),
        "--hang",
        str(args.timeout + 2),
        "--lifetime",
        "600",
    ]
    if tls_dir:
        command += ["--tls", tls_dir]
    fleet = subprocess.Popen(pinned(1) + command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ports = [int(p) for p in fleet.stdout.readline().split()[1:]]
    cert = fleet.stdout.readline().split(" ", 1)[1].strip() if tls_dir else None
    return fleet, ports, cert


def child(args: argparse.Namespace, mode: str, ports: list[int], control_port: int, **extra) -> dict:
    scheme, ca, quota = extra.get("scheme", "http"), extra.get("ca"), extra.get("quota")
    command = [sys.executable, __file__, "--mode", mode, "--ports-list", ",".join(map(str, ports))]
    command += ["--seeded"] * bool(extra.get("seeded"))
    command += ["--control-port", str(control_port), "--scheme", scheme, "--monitors", str(args.monitors)]
    command += ["--timeout", str(args.timeout), "--workers", str(args.workers)]
    if ca:
        command += ["--ca", ca]
    preexec: Optional[Callable[[], None]] = quota.preexec if quota else None
    proc = subprocess.Popen(pinned(0) + command, stdout=subprocess.PIPE, text=True, preexec_fn=preexec)
    if quota:
        quota.govern(proc)
    out, _ = proc.communicate(timeout=300)
    if proc.returncode:
        raise SystemExit(f"{mode} child failed with {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def report_cycles(label: str, fig: dict, bound: float) -> None:
    ratios = "  ".join(f"{name} {fig[name]['wall'] / bound:4.2f}x" for name in ("first", "warm", "outage"))
    cpu = fig["first"]["cpu_ms_per_probe"]
    print(
        f"{label:<26} {ratios}   cpu/probe first {cpu:.3f} ms, warm {fig['warm']['cpu_ms_per_probe']:.3f} ms"
        f"   up/down/skipped {fig['first']['counts']} -> outage {fig['outage']['counts']}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--ports", type=int, default=100, help="independent endpoints in the fleet")
    parser.add_argument("--import-runs", type=int, default=7, help="fresh processes per import timing")
    parser.add_argument("--mode", choices=["cycles", "latency"], help=argparse.SUPPRESS)
    parser.add_argument("--ports-list", help=argparse.SUPPRESS)
    parser.add_argument("--control-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--scheme", default="http", help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    parser.add_argument("--seeded", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.mode:
        print(json.dumps(measure_cycles(args) if args.mode == "cycles" else measure_latency(args)))
        return
    bound = args.timeout
    with tempfile.TemporaryDirectory() as tls_dir:
        plain, ports, _ = start_fleet(args, None)
        secure, tls_ports, cert = start_fleet(args, tls_dir)
        quota = Quota(0.29)
        try:
            control = ports[0]
            runs = {
                "1 core, http": child(args, "cycles", ports, control),
                "0.29 vCPU, http": child(args, "cycles", ports, control, quota=quota),
                "1 core, https (ECDSA)": child(
                    args, "cycles", tls_ports, tls_ports[0], scheme="https", ca=cert
                ),
                # A cold container, as the probe handler runs one: the stored state seeds the order.
                "cold container, 1 core, http": child(args, "cycles", ports, control, seeded=True),
                "cold container, 0.29 vCPU, http": child(
                    args, "cycles", ports, control, quota=quota, seeded=True
                ),
                "cold container, 1 core, https (ECDSA)": child(
                    args, "cycles", tls_ports, tls_ports[0], scheme="https", ca=cert, seeded=True
                ),
            }
            latency = child(args, "latency", ports, control)
            probe_import, boto3_import = import_ratio(args.import_runs)
        finally:
            quota.close()
            for fleet in (plain, secure):
                fleet.stdin.close()  # the fleet exits when its stdin closes
                fleet.wait(timeout=10)
    print(
        f"monitors={args.monitors} over {args.ports} endpoints, timeout={args.timeout}s, retries 0, "
        f"workers={args.workers}; 10% hang, 10% slow at {SLOW_FRACTION}x timeout, 7% start hanging for "
        f"'outage'; probe on core 0, fleet on core 1; lower bound {bound:.3f}s"
    )
    print(f"0.29 vCPU by {quota.method}")
    for label, fig in runs.items():
        report_cycles(label, fig, bound)
    http, https = runs["1 core, http"], runs["1 core, https (ECDSA)"]
    for label, fig in (("http", http), ("https", https)):
        print(
            f"resident memory added by the first {label} cycle over the imports: "
            f"{fig['rss_added_mb']:.1f} MB (peak RSS of the process {fig['peak_rss_mb']:.1f} MB)"
        )
    for name, fig in latency.items():
        print(
            f"latency reported for /ok, {args.workers} in flight, 1 core, {name} cycle (n={fig['n']}): "
            f"p50 {fig['p50']:.2f} ms  p90 {fig['p90']:.2f} ms  p99 {fig['p99']:.2f} ms"
        )
    print(
        f"import of the probe's path {probe_import * 1000:.0f} ms against boto3 alone "
        f"{boto3_import * 1000:.0f} ms: {probe_import / boto3_import:.2f}x (median of {args.import_runs})"
    )
    checks = {
        "first cycle <= 1.2x on one core": http["first"]["wall"] <= 1.2 * bound,
        "first cycle <= 1.35x at 0.29 vCPU": runs["0.29 vCPU, http"]["first"]["wall"] <= 1.35 * bound,
        "cpu <= 0.25 ms per probe (first cycle, one core)": http["first"]["cpu_ms_per_probe"] <= 0.25,
        "warm cycle after a fresh outage <= 1.2x on one core": http["outage"]["wall"] <= 1.2 * bound,
        "https first cycle <= 1.4x on one core": runs["1 core, https (ECDSA)"]["first"]["wall"]
        <= 1.4 * bound,
        "cold container's first cycle <= 1.2x on one core": runs["cold container, 1 core, http"]["first"][
            "wall"
        ]
        <= 1.2 * bound,
        "cold container's first cycle <= 1.35x at 0.29 vCPU": runs["cold container, 0.29 vCPU, http"][
            "first"
        ]["wall"]
        <= 1.35 * bound,
        "cold container's https first cycle <= 1.4x on one core": runs[
            "cold container, 1 core, https (ECDSA)"
        ]["first"]["wall"]
        <= 1.4 * bound,
        "memory added by a cycle <= 32 MB (http and https)": max(http["rss_added_mb"], https["rss_added_mb"])
        <= 32,
        "import of the probe's path <= 1.2x boto3": probe_import <= 1.2 * boto3_import,
        "latency p99 <= 20 ms at 256 in flight (warm)": latency["warm"]["p99"] <= 20,
    }
    for name, met in checks.items():
        print(f"target {name}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
