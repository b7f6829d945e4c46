"""What one endpoint costs a month: the probe's measured duration and AWS calls, priced.

    python bench/cost.py [--endpoints 10 1000] [--sub-minute] [--fleet] [--vantage FILE]

Runs the real `probe` handler against the local AWS (moto on 127.0.0.1) and one local HTTP
server answering every monitor after 100 ms (`--latency-ms`): N monitors, no failures (the
steady state). With `--fleet` the monitors are answered by bench/fleet_servers.py instead (100
keep-alive asyncio endpoints on the second core, each answer after the same latency): the
threaded server's own queueing then no longer stretches the invocation it bills. Counts every
AWS API call the handler makes (botocore's `_make_api_call`), the bytes it logs and the wall
time of a warm invocation, then prices a month (43,200 one-minute ticks) at us-east-1 list
prices. With `--sub-minute`, `probe_every: 10s` runs one whole invocation of six cycles (it
lasts most of a minute). Loopback only; everything stops by itself.

With `--vantage FILE` (written by `bench/vantage_blind.py --json FILE`), it adds what three
vantage points cost per monitor-month: three regions' probes (the measured row with the most
endpoints, three times), the votes and confirmations of each quorum change (the real outages'
counts), a blind region's episode (the blind run's counts) and the home region's look for
pending changes each cycle; each line prints the figure it comes from.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

TICKS_PER_MONTH = 43_200  # one invocation per minute, 30 days
MEMORY_GB = 0.5  # the prod stage's probe (.chalice/config.json)
PRICES = {  # us-east-1 list prices, USD
    "lambda_gb_second": 0.0000166667,
    "lambda_request": 0.20 / 1e6,
    "dynamodb_write": 1.25 / 1e6,  # on-demand, per write request unit (items < 1 KB)
    "dynamodb_read": 0.25 / 1e6,
    "s3_put": 0.005 / 1000,
    "sns_publish": 0.50 / 1e6,
    "logs_gb": 0.50,  # CloudWatch Logs ingestion (EMF documents are log lines)
    "custom_metric": 0.30,  # per metric and month (first 10,000)
    "alarm": 0.10,  # standard-resolution alarm, per month
}
ROUTE53_PER_ENDPOINT = (0.50, 0.75)  # AWS endpoint / non-AWS endpoint, basic health check
SYNTHETICS_PER_RUN = 0.0012


class Quick(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.1  # seconds: an endpoint across the internet, not on loopback

    def do_GET(self) -> None:  # noqa: N802
        time.sleep(self.delay)
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def config_text(ports: list[int], endpoints: int, every: str | None, path: str = "/healthz") -> str:
    settings = "settings: {state_table: cost-state, alarm_topic: cost-alarms, notify_topic: cost-notify,"
    settings += " status_bucket: cost-status" + (f", probe_every: {every}" if every else "") + "}\n"
    monitors = "".join(
        f"  - {{name: m{i}, component: c{i % 10}, url: '{url}?m={i}'}}\n"
        for i, url in ((i, f"http://127.0.0.1:{ports[i % len(ports)]}{path}") for i in range(endpoints))
    )
    return settings + "monitors:\n" + monitors


def counting_calls() -> collections.Counter:
    from botocore.client import BaseClient

    counts: collections.Counter = collections.Counter()
    original = BaseClient._make_api_call

    def counted(self, operation, params):  # type: ignore[no-untyped-def]
        counts[f"{self.meta.service_model.service_name}:{operation}"] += 1
        return original(self, operation, params)

    BaseClient._make_api_call = counted
    return counts


def measure(
    endpoints: int, every: str | None, ports: list[int], calls: collections.Counter, path: str = "/healthz"
) -> dict:
    from probe_invocation import single_run

    from autoheal_ops.resources import stage_template
    from autoheal_ops.stage import functions
    from chalicelib import wiring
    from chalicelib.monitoring.probe_run import ProbeRun
    from sandbox.provision import provision

    monitor_path = path

    def load(every_text: str | None) -> ProbeRun:
        path = Path(tempfile.mkdtemp()) / "cost.yaml"
        path.write_text(config_text(ports, endpoints, every_text, monitor_path))
        os.environ["AUTOHEAL_CONFIG"] = str(path)
        wiring.reset()
        return single_run()  # as wiring builds it up to the fan-out threshold; above it too

    run = load(None)
    provision(wiring.config())
    for _ in range(3):  # new states, then UNKNOWN -> UP (success_threshold 2): not the steady state
        with contextlib.redirect_stdout(io.StringIO()):
            run.invoke(time.monotonic() + 75)
    if every is not None:  # same monitors and table: the states stay as they are
        run = load(every)
        with contextlib.redirect_stdout(io.StringIO()):  # warms the engine's timings and pool
            run.engine.run(run.config.monitors, time.monotonic() + 10)
    calls.clear()
    logged = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(logged):  # what Lambda would ingest into CloudWatch Logs
        result = run.invoke(time.monotonic() + 75)
    seconds = time.monotonic() - started
    alarms = sum(
        r.get("Type") == "AWS::CloudWatch::Alarm"
        for r in stage_template("prod", wiring.config(), functions())["Resources"].values()
    )
    up = sum(1 for m in result["monitors"].values() if m["state"] == "UP" or m["status"] == "up")
    return {
        "endpoints": endpoints,
        "every": every or "60s",
        "seconds": seconds,
        "cycles": result["cycles"],
        "up": up,
        "calls": dict(calls),
        "log_bytes": len(logged.getvalue().encode()),
        "alarm_count": alarms,
    }


def monthly(measured: dict) -> dict:
    calls = measured["calls"]
    writes = sum(
        v
        for k, v in calls.items()
        if k.split(":")[1] in ("PutItem", "UpdateItem", "BatchWriteItem", "DeleteItem")
    )
    reads = sum(v for k, v in calls.items() if k.split(":")[1] in ("GetItem", "Query", "BatchGetItem"))
    ticks = TICKS_PER_MONTH
    cost = {
        "lambda": ticks
        * (measured["seconds"] * MEMORY_GB * PRICES["lambda_gb_second"] + PRICES["lambda_request"]),
        "dynamodb": ticks * (writes * PRICES["dynamodb_write"] + reads * PRICES["dynamodb_read"]),
        "s3": ticks * sum(v for k, v in calls.items() if k == "s3:PutObject") * PRICES["s3_put"],
        # A PublishBatch is billed as one request per 64 KB of payload: ten alarms are one.
        "sns": ticks
        * sum(v for k, v in calls.items() if k in ("sns:Publish", "sns:PublishBatch"))
        * PRICES["sns_publish"],
        # What the invocation printed, plus Lambda's START/END/REPORT lines (about 300 bytes).
        "logs": ticks * (measured["log_bytes"] + 300) / 1e9 * PRICES["logs_gb"],
        # MonitorsUp/Down per component (10 components here), CycleDuration, Skipped, Heartbeat.
        "metrics": (2 * min(10, measured["endpoints"]) + 3) * PRICES["custom_metric"],
        # The stage's own alarms (queues, errors, heartbeats), shared by every endpoint.
        "alarms": measured["alarm_count"] * PRICES["alarm"],
    }
    total = sum(cost.values())
    return {"total": total, "per_endpoint": total / measured["endpoints"], **cost}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--sub-minute", action="store_true")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="each endpoint's answer time")
    parser.add_argument("--fleet", action="store_true", help="answer from bench/fleet_servers.py")
    parser.add_argument("--vantage", help="bench/vantage_blind.py's figures: price three vantage points")
    parser.add_argument("--changes", type=float, default=60.0, help="quorum changes a monitor-month")
    parser.add_argument(
        "--blind-episodes", type=float, default=3.0, help="blind episodes a month, all regions"
    )
    args = parser.parse_args(argv)
    Quick.delay = args.latency_ms / 1000
    from sandbox.moto_server import MotoServer

    with answering(args) as (ports, path):
        calls = counting_calls()
        rows = []
        with MotoServer() as moto:
            moto.apply_env()
            for endpoints in args.endpoints:
                for every in [None] + (["10s"] if args.sub_minute else []):
                    moto.reset()
                    measured = measure(endpoints, every, ports, calls, path)
                    priced = monthly(measured)
                    rows.append({**measured, **{k: round(v, 4) for k, v in priced.items()}})
                    print(json.dumps(rows[-1]), flush=True)
    for row in rows:
        route53 = [p * row["endpoints"] for p in ROUTE53_PER_ENDPOINT]
        synthetics = (
            SYNTHETICS_PER_RUN * TICKS_PER_MONTH * (6 if row["every"] == "10s" else 1) * row["endpoints"]
        )
        print(
            f"{row['endpoints']:>5} endpoints every {row['every']:>3}: invocation {row['seconds']:.2f} s,"
            f" {sum(row['calls'].values())} AWS calls; autoheal ${row['total']:.2f}/month"
            f" (${row['per_endpoint']:.4f} per endpoint); Route 53 ${route53[0]:.2f}-{route53[1]:.2f};"
            f" Synthetics ${synthetics:,.0f}"
        )
    if args.vantage:
        minute = [row for row in rows if row["every"] == "60s"]
        one = max(minute, key=lambda row: row["endpoints"])
        figures = json.loads(Path(args.vantage).read_text())
        lines = vantage_lines(one, figures, args.changes, args.blind_episodes)
        print_vantage(one, lines)
    return 0


@contextlib.contextmanager
def answering(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The endpoints the monitors probe: (ports, path); stopped on the way out."""
    if not args.fleet:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Quick)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield [server.server_address[1]], "/healthz"
        finally:
            server.shutdown()
        return
    import subprocess

    command = [sys.executable, str(ROOT / "bench" / "fleet_servers.py"), "--ports", "100"]
    command += ["--slow", str(args.latency_ms / 1000), "--lifetime", "1800"]
    pin = ["taskset", "-c", "1"] if (os.cpu_count() or 1) > 1 and shutil.which("taskset") else []
    fleet = subprocess.Popen(pin + command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield [int(p) for p in fleet.stdout.readline().split()[1:]], "/slow"
    finally:
        fleet.stdin.close()  # the fleet exits when its stdin closes
        fleet.wait(timeout=10)


# -- three vantage points -----------------------------------------------------------------------
# Request units of the vote store's calls (items under 1 KB; a transaction's items cost two each):
# a vote is a conditional PutItem; a quorum change a TransactWriteItems of the acted item and,
# when published, the pending message; the publisher's claim an UpdateItem, its removal a
# DeleteItem; reads are strongly consistent GetItems and Queries of a few small items.
VOTE_WRITES = {"cast": 1, "change": 2 * 1.5, "claim": 1, "published": 1, "note": 1}  # change: 1-2 items
VOTE_READS = {"votes": 1, "acted": 1, "pending": 1}
CROSS_REGION_GB = 0.02  # data transfer out between regions, per GB
VOTE_BYTES = 1024  # a vote store request and its answer, at most


def vote_cost(calls: dict) -> tuple[float, int, int]:
    writes = sum(calls.get(f"votes:{m}", 0) * units for m, units in VOTE_WRITES.items())
    reads = sum(calls.get(f"votes:{m}", 0) * units for m, units in VOTE_READS.items())
    requests = sum(v for k, v in calls.items() if k.startswith("votes:"))
    dollars = writes * PRICES["dynamodb_write"] + reads * PRICES["dynamodb_read"]
    return dollars + requests * VOTE_BYTES / 1e9 * CROSS_REGION_GB, int(writes), int(reads)


def invoke_cost(invokes: int, seconds: float) -> float:
    """Confirmations: asynchronous invokes of the other regions' probe at its 512 MB."""
    return invokes * PRICES["lambda_request"] + seconds * MEMORY_GB * PRICES["lambda_gb_second"]


def aggregates_share(one: dict) -> float:
    """The per-component aggregates' share of a monitor-month, which a vantage point other than
    home does not pay: it writes its own health only (chalicelib/metrics.py)."""
    return 2 * min(10, one["endpoints"]) * PRICES["custom_metric"] / one["endpoints"]


def vantage_lines(one: dict, figures: dict, changes: float, episodes: float) -> list[tuple[str, float, str]]:
    """(what, USD per monitor-month, the figure it comes from)."""
    monitors = figures["monitors"]
    outage, blind = figures["outage"], figures["blind"]
    changes_measured = 2 * outage["trials"]  # each trial: the DOWN, then the recovery
    per_change, writes, reads = vote_cost(figures["outage_calls"])
    per_change /= changes_measured
    invokes = figures["outage_calls"].get("lambda:Invoke", 0)
    confirm_seconds = sum(figures.get("outage_confirm_seconds", []))
    per_change += invoke_cost(invokes, confirm_seconds) / changes_measured
    episode, blind_writes, blind_reads = vote_cost(blind["aws_calls"])
    episode += invoke_cost(blind["aws_calls"].get("lambda:Invoke", 0), sum(blind["confirm_seconds"]))
    pending = TICKS_PER_MONTH * PRICES["dynamodb_read"] / one["endpoints"]  # the home region's Query a cycle
    aggregates = aggregates_share(one)
    other = one["per_endpoint"] - aggregates
    return [
        (
            "three regions' probes",
            one["per_endpoint"] + 2 * other,
            f"${one['per_endpoint']:.4f} + 2 x ${other:.4f}: the measured {one['endpoints']}-endpoint row "
            f"above, {one['seconds']:.2f} s an invocation (each region probes every monitor; the other "
            f"two write no per-component metrics: ${aggregates:.4f} less each)",
        ),
        (
            f"quorum changes ({changes:g} a monitor-month)",
            changes * per_change,
            f"${per_change:.7f} a change: {changes_measured} changes measured "
            f"({outage['trials']} real outages and recoveries) made {writes} vote write units, "
            f"{reads} read units, {invokes} invokes, "
            f"{confirm_seconds:.1f} s of confirmations",
        ),
        (
            f"blind episodes ({episodes:g} a month, {blind['minutes']} minutes each)",
            episodes * episode / monitors,
            f"${episode:.4f} an episode over {monitors} monitors: {blind_writes} write units, {blind_reads} "
            f"read units, {blind['aws_calls'].get('lambda:Invoke', 0)} invokes, "
            f"{sum(blind['confirm_seconds']):.1f} s of confirmations",
        ),
        (
            "the home region's look for pending changes",
            pending,
            f"one Query a cycle, {TICKS_PER_MONTH} a month, shared by {one['endpoints']} monitors",
        ),
    ]


def print_vantage(one: dict, lines: list[tuple[str, float, str]]) -> None:
    fixed = one["metrics"] + one["alarms"]  # a stage's, whatever it monitors
    print(
        f"\nper monitor-month at 1-minute checks, {one['endpoints']} monitors (of which the stage's fixed "
        f"metrics and alarms, ${fixed:.2f} a month a region: ${fixed / one['endpoints']:.4f}):"
    )
    print(
        f"  one region: ${one['per_endpoint']:.4f} "
        f"(target <= $0.01: {'met' if one['per_endpoint'] <= 0.01 else 'NOT met'})"
    )
    for what, dollars, source in lines:
        print(f"  + {what}: ${dollars:.5f}  <- {source}")
    total = sum(dollars for _, dollars, _ in lines)
    print(f"  three vantage points: ${total:.4f} (target <= $0.03: {'met' if total <= 0.03 else 'NOT met'})")
    share = fixed / one["endpoints"]
    three = share + 2 * (share - aggregates_share(one))  # the home region's, and two without aggregates
    print(
        f"  without the fixed metrics and alarms (what grows with the monitors): one region "
        f"${one['per_endpoint'] - share:.4f}, three vantage points ${total - three:.4f}"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
