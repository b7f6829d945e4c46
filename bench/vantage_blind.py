"""One region blind for 15 minutes over many monitors, then a real outage, three vantage points.

    python bench/vantage_blind.py [--monitors 250] [--minutes 15] [--blind us-east-1]
                                  [--fault hang] [--timeout 2] [--trials 10] [--json FILE]

The local world on 127.0.0.1: moto as AWS, bench/fleet_servers.py as the app (one keep-alive
port; every monitor a path of it), three vantage points as `sandbox.vantage_world` builds them
(each region its own probe, state table and fault proxy in front of the app; confirmations
through a Lambda Invoke API routed by the request's signed region), the real `on_alarm` and a
chat receiver. `failure_threshold: 1` and `success_threshold: 1`: one failed check turns a
region's own view (the quickest to act, and to be fooled).

1. The blind region. A round is one tick of each region (one cycle over every monitor), the
   confirmations they asked for, then on_alarm for whatever reached the alarms topic. Ticks are
   a minute apart on an injected clock (the votes' windows and the fold's times follow it); the
   probes are real, over loopback. After a round where every region sees every monitor UP, the
   blind region's fault proxy drops (`--fault drop`: resets) or hangs (`hang`: a blackhole) its
   traffic to the app for `--minutes` rounds, then passes again. Printed: restarts (SSM
   SendCommand calls), pages (notify topic publishes, chat posts), alarms published, the notes
   written, the votes cast and confirmations asked, every AWS call by operation, the wall time.
2. A real outage. On the real clock: the app's `web` monitor hangs for every region; one region's
   tick turns it DOWN (detection: the fold's time), the others confirm, the quorum's alarm goes to
   on_alarm, which restarts through SSM (the command's RequestedDateTime). Each region detects in
   turn. Printed: detection to the first SendCommand, p50, p99 and max, at a 60 s interval.

`--json FILE` writes the figures bench/cost.py prices for three vantage points. Every server
stops with the run. A round's votes are cast and its changes recorded 16 requests at a time, its
votes read in one Query, its acted statuses and notes in batches (chalicelib/vantage/gate.py), so
a blind region's round over every monitor is seconds, not minutes; the sandbox's moto copies only
the items a TransactWriteItems names (it copied the whole table: a round grew with the square of
the monitors, and 1,000 monitors did not finish).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

MINUTE = 60.0
# How long the confirmations a round asked for may take (a blind region's first round asks the
# others about every monitor): a bound, not an expectation.
SETTLE_SECONDS = 900.0
TARGET_P99 = 80.0  # seconds, detection to the first SendCommand at a 60 s interval
CHAT = "/autoheal/chat-webhook"
# The vote store's calls, one DynamoDB request each (bench/cost.py prices them).
# change() is one change_many, note() one note_many.
VOTE_CALLS = ("cast", "cast_many", "votes", "round_votes", "acted", "acted_many", "change_many")
VOTE_CALLS += ("pending", "claim", "published", "note_many")
# A batched call also counts its items under the one-at-a-time call bench/cost.py prices by item
# (times the units: a vote in a transaction costs twice a PutItem's).
PER_ITEM = {"round_votes": ("votes", 1), "acted_many": ("acted", 1), "note_many": ("note", 1)}
PER_ITEM |= {"change_many": ("change", 1), "cast_many": ("cast", 2)}

# What this bench adds to vantage_confirm's settings: pages go out at once, to e-mail and chat.
PAGING = f"  chat_webhook_parameter: {CHAT}\n  notify: {{email: immediately, chat: immediately}}\n"


def config_text(app: str, check: str, monitors: int, timeout: float) -> str:
    from vantage_confirm import RESTART_WEB, SETTINGS, web_monitor

    others = "".join(
        f"  - {{name: m{i}, url: '{app}/ok?i={i}', timeout: {timeout}s, retries: 0,"
        " failure_threshold: 1, success_threshold: 1}\n"
        for i in range(1, monitors)
    )
    head = SETTINGS.format(check=check) + PAGING + "monitors:\n"
    return head + web_monitor(f"{app}/flip?web", timeout) + others + RESTART_WEB


class Calls:
    """Every botocore call made in this process (probes, confirmations, on_alarm), by operation;
    and each VoteStore call (the home table's vantage partition) as "votes:<method>"."""

    def __init__(self) -> None:
        from botocore.client import BaseClient

        self.counts: dict[str, int] = {}
        self.publishes: dict[str, int] = {}  # topic name -> messages published
        lock, inner = threading.Lock(), BaseClient._make_api_call
        calls = self

        def counted(client, operation, params):  # type: ignore[no-untyped-def]
            name = f"{client.meta.service_model.service_name}:{operation}"
            with lock:
                calls.counts[name] = calls.counts.get(name, 0) + 1
                if name in ("sns:Publish", "sns:PublishBatch"):
                    topic = str(params.get("TopicArn", "")).rsplit(":", 1)[-1]
                    messages = len(params.get("PublishBatchRequestEntries", [None]))
                    calls.publishes[topic] = calls.publishes.get(topic, 0) + messages
            return inner(client, operation, params)

        BaseClient._make_api_call = counted
        for method in VOTE_CALLS:
            self.count_votes(method, lock)

    def count_votes(self, method: str, lock: threading.Lock) -> None:
        from chalicelib.vantage.votes import FEW, VoteStore  # a few monitors' votes: votes() each

        inner, counts = getattr(VoteStore, method), self.counts

        def counted(store, *args, **kwargs):  # type: ignore[no-untyped-def]
            with lock:
                counts[f"votes:{method}"] = counts.get(f"votes:{method}", 0) + 1
                if method in PER_ITEM and not (method == "round_votes" and len(args[-1]) <= FEW):
                    name, units = PER_ITEM[method]
                    counts[f"votes:{name}"] = counts.get(f"votes:{name}", 0) + units * len(args[-1])
            return inner(store, *args, **kwargs)

        setattr(VoteStore, method, counted)

    def take(self) -> tuple[dict[str, int], dict[str, int]]:
        taken = (dict(self.counts), dict(self.publishes))
        self.counts.clear()
        self.publishes.clear()
        return taken


class Clock:
    """The regions' time: the real one, or minutes that pass when the bench says so."""

    def __init__(self) -> None:
        self.fake: float | None = None

    def __call__(self) -> float:
        return time.time() if self.fake is None else self.fake


def let_go_when_closed(proxy: Any) -> None:
    """The sandbox proxy's blackhole keeps each connection's thread until the mode changes: over
    1,000 monitors that is 1,000 more sleeping threads a minute. Here a blackholed connection
    also ends when the prober closes its end; the prober sees the same silence."""
    serve = proxy._serve

    def blackhole(conn: socket.socket, mode: str) -> None:
        if mode != "hang":
            serve(conn, mode)
            return
        with conn:
            conn.settimeout(0.5)
            while proxy.mode == "hang" and not proxy._stopped.is_set():
                try:
                    if not conn.recv(65536):
                        return  # the prober gave up and closed
                except TimeoutError:
                    continue
                except OSError:
                    return

    def silence() -> None:  # an open connection the blackhole cut: a coarser poll than the sandbox's
        while proxy.mode == "hang" and not proxy._stopped.wait(0.5):
            pass

    proxy._serve = blackhole
    proxy._silence = silence


def control(port: int, path: str) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: fleet\r\n\r\n".encode())
        sock.recv(4096)


def start_app(timeout: float) -> tuple[subprocess.Popen, int]:
    command = [sys.executable, str(HERE / "fleet_servers.py"), "--ports", "1", "--slow", "0.1"]
    command += ["--hang", str(timeout + 2), "--lifetime", "1200"]
    fleet = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return fleet, int(fleet.stdout.readline().split()[1])


def count_items(table: str, prefix: str) -> int:
    from boto3.dynamodb.conditions import Key

    from chalicelib.aws.clients import table as table_of

    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq("vantage") & Key("sk").begins_with(prefix),
        "Select": "COUNT",
    }
    found = 0
    while True:
        page = table_of(table).query(**kwargs)
        found += page["Count"]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


class World:
    """The regions, the Invoke API, on_alarm; rounds of ticks and what they cost."""

    def __init__(self, args: argparse.Namespace, console: Any) -> None:
        self.args, self.console = args, console
        self.ticks: dict[str, list[float]] = {}  # region -> wall of each tick
        self.confirms: list[tuple[str, float, int]] = []  # (region, wall, monitors asked)
        self.reports: list[dict] = []  # every gate report: the ticks' and the confirmations'

    def build(self, config: Any, app_url: str, check_url: str, api: Any, clock: Clock) -> None:
        from sandbox.vantage_world import REGIONS, make_region

        self.api = api
        self.regions = [make_region(name, config, app_url, check_url, api) for name in REGIONS]
        for region in self.regions:
            let_go_when_closed(region.app)
            region.run.clock = region.gate.clock = clock
            api.handlers[region.name] = self.timed_confirm(region)

    def timed_confirm(self, region: Any) -> Callable[[dict], dict]:
        def confirm(event: dict) -> dict:
            started = time.monotonic()
            report = region.confirm(event)
            asked = len(event["detail"]["vantage_confirm"]["monitors"])
            self.confirms.append((region.name, time.monotonic() - started, asked))
            self.reports.append(report)
            return report

        return confirm

    def tick(self, region: Any) -> dict:
        started = time.monotonic()
        summary = region.tick()
        self.ticks.setdefault(region.name, []).append(time.monotonic() - started)
        self.reports += summary.get("vantage", [])
        return summary

    def settled(self, on_alarm: Callable[[], int], console: Any, rounds: int = 4) -> None:
        """Rounds until every region sees every monitor UP (a first cycle's connection storm
        through the proxies may time some out)."""
        for _ in range(rounds):
            summaries, _ = self.round(on_alarm)
            seen = ", ".join(
                f"{r.name} {down(s)} not UP" for r, s in zip(self.regions, summaries, strict=True)
            )
            print(f"  settling: {seen}", file=console)
            if not any(down(summary) for summary in summaries):
                return
        raise SystemExit("the regions did not all see every monitor UP")

    def round(self, on_alarm: Callable[[], int]) -> tuple[list[dict], int]:
        summaries = [self.tick(region) for region in self.regions]
        self.api.settle(SETTLE_SECONDS)
        return summaries, on_alarm()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=250)
    parser.add_argument("--minutes", type=int, default=15, help="how long the region stays blind")
    parser.add_argument("--blind", default="us-east-1", help="the blind region (us-east-1 is home)")
    parser.add_argument("--fault", choices=("hang", "drop"), default="hang")
    parser.add_argument("--timeout", type=float, default=2.0, help="each monitor's timeout, seconds")
    parser.add_argument("--trials", type=int, default=10, help="real outages acted on")
    parser.add_argument("--json", help="write the figures here (bench/cost.py --vantage reads them)")
    args = parser.parse_args()
    from sandbox.chat import ChatReceiver
    from sandbox.moto_server import MotoServer
    from sandbox.vantage_world import InvokeApi, KnownGood

    console = sys.stdout
    log = tempfile.NamedTemporaryFile("w", prefix="autoheal-bench-", suffix=".log", delete=False)  # noqa: SIM115
    sys.stdout = log  # the functions' JSON logs; the console shows the figures
    print(f"function logs: {log.name}", file=console)
    fleet, port = start_app(args.timeout)
    known, api, chat = KnownGood(), InvokeApi(), ChatReceiver()
    began = time.monotonic()
    try:
        with MotoServer() as moto, tempfile.TemporaryDirectory() as tmp, chat:
            moto.apply_env()
            os.environ["AWS_ENDPOINT_URL_LAMBDA"] = api.url
            local = Local.start(args, Path(tmp), f"http://127.0.0.1:{port}", known.url, api, chat, console)
            blind = blind_phase(local)
            latencies = outage_trials(local, port)
            outage_calls, _ = local.calls.take()
            for region in local.world.regions:
                region.app.stop()
                region.eyes.stop()
    finally:
        api.close()
        known.close()
        fleet.stdin.close()  # the fleet exits when its stdin closes
        fleet.wait(timeout=10)
    outage = print_outage(args, latencies, console)
    print(f"whole run {time.monotonic() - began:.0f}s", file=console)
    if args.json:
        figures = {"monitors": args.monitors, "timeout": args.timeout, "blind": blind, "outage": outage}
        figures["outage_calls"] = outage_calls
        figures["outage_confirm_seconds"] = [round(wall, 3) for _, wall, _ in local.world.confirms]
        Path(args.json).write_text(json.dumps(figures, indent=1))
    met = blind["restarts"] == 0 and blind["pages"] == 0 and blind["chat_posts"] == 0
    return 0 if met and outage["p99"] <= TARGET_P99 else 1


@dataclass
class Local:
    """The local world a run drives: its regions, on_alarm, and what it counts."""

    args: argparse.Namespace
    world: World
    clock: Clock
    calls: Calls
    chat: Any
    config: Any
    on_alarm: Callable[[], int]
    console: Any

    @classmethod
    def start(
        cls, args: argparse.Namespace, tmp: Path, app_url: str, check: str, api: Any, chat: Any, console: Any
    ) -> Local:
        from chalice.local import LambdaContext

        from chalicelib import wiring
        from chalicelib.aws.clients import client
        from chalicelib.vantage import regional
        from sandbox.fleet import launch_instances
        from sandbox.provision import provision
        from sandbox.runtime import drain_envelopes, sns_event
        from sandbox.world import load_app

        path = tmp / "autoheal.yaml"
        path.write_text(config_text(app_url, check, args.monitors, args.timeout))
        os.environ["AUTOHEAL_CONFIG"] = str(path)
        wiring.reset()
        regional.reset()
        config = wiring.config()
        resources = provision(config, chat_webhook_url=chat.url)
        launch_instances(client("ec2"), [("blue-1", "blue"), ("blue-2", "blue")])
        functions = load_app().app.handler_map
        sqs = client("sqs")

        def on_alarm() -> int:
            envelopes = drain_envelopes(sqs, resources.alarm_queue_url)
            for envelope in envelopes:
                functions["on_alarm"](sns_event(envelope), LambdaContext("on_alarm", 256, 60_000))
            return len(envelopes)

        world, clock = World(args, console), Clock()
        world.build(config, app_url, check, api, clock)
        return cls(args, world, clock, Calls(), chat, config, on_alarm, console)

    def say(self, text: str) -> None:
        print(text, file=self.console)


def blind_phase(local: Local) -> dict:
    """Every region sees every monitor UP; then one is blind for `--minutes` rounds, a simulated
    minute apart, and sees again. The minutes are in the past, so the real outages after them
    fall in later windows, as they would."""
    args, world, clock = local.args, local.world, local.clock
    clock.fake = time.time() - (args.minutes + 5) * MINUTE
    setup = time.monotonic()
    world.settled(local.on_alarm, local.console)
    warm_up = time.monotonic() - setup
    local.calls.take()
    world.reports.clear()
    world.confirms.clear()
    blind = next(r for r in world.regions if r.name == args.blind)
    started, alarms, chat_before, blind_ticks = time.monotonic(), 0, len(local.chat.messages), []
    blind.app.mode = args.fault
    for minute in range(1, args.minutes + 1):
        clock.fake += MINUTE
        summaries, published = world.round(local.on_alarm)
        alarms += published
        blind_ticks.append(summaries[world.regions.index(blind)])
        seen = ", ".join(f"{r.name} {down(s)} down" for r, s in zip(world.regions, summaries, strict=True))
        local.say(f"  blind minute {minute}: {seen} ({time.monotonic() - started:.0f}s)")
    blind.app.mode = "pass"
    clock.fake += MINUTE
    alarms += world.round(local.on_alarm)[1]  # it sees again: its own recovery, by the quorum's rule
    wall = time.monotonic() - started
    figures = blind_report(world, *local.calls.take(), blind_ticks)
    figures |= {
        "alarms_published": alarms,
        "chat_posts": len(local.chat.messages) - chat_before,
        "notes": count_items(local.config.settings.state_table, "note#"),
        "wall_seconds": wall,
        "minutes": args.minutes,
        "region": args.blind,
        "fault": args.fault,
        "warm_up_seconds": warm_up,
    }
    print_blind(args, figures, local.console)
    return figures


def outage_trials(local: Local, port: int) -> list[float]:
    """On the real clock: `web` hangs for every region; detection to the first SendCommand."""
    from chalicelib.aws.clients import client
    from chalicelib.state.store import StateStore

    world, ssm = local.world, client("ssm")
    local.clock.fake = None
    world.settled(local.on_alarm, local.console)
    local.calls.take()
    world.reports.clear()
    world.confirms.clear()
    latencies = []
    for trial in range(1, local.args.trials + 1):
        commands = len(ssm.list_commands()["Commands"])
        control(port, "/outage")  # /flip hangs: `web`, for every region
        detector = world.regions[trial % len(world.regions)]
        world.tick(detector)
        detected = StateStore(detector.run.config.settings.state_table).load()["web"].since
        world.api.settle(SETTLE_SECONDS)
        control(port, "/recover")  # the restart "works": verify sees it healthy
        local.on_alarm()
        sent = ssm.list_commands()["Commands"][commands:]
        if not sent:
            raise SystemExit(f"trial {trial}: no SendCommand")
        first = min(datetime.fromisoformat(str(c["RequestedDateTime"])).timestamp() for c in sent)
        latencies.append(first - detected)
        local.say(f"trial {trial:2d}: detected by {detector.name}, SendCommand {first - detected:.3f}s later")
        world.round(local.on_alarm)  # every region sees it UP again: the quorum's recovery
    return latencies


def print_outage(args: argparse.Namespace, latencies: list[float], console: Any) -> dict:
    ordered = sorted(latencies)
    p50, p99 = statistics.median(ordered), percentile(ordered, 0.99)
    print(
        f"\nreal outage, {len(ordered)} trials, {args.monitors} monitors a region, "
        f"timeout {args.timeout:g}s, 60 s windows: detection -> first SendCommand "
        f"p50 {p50:.3f}s, p99 {p99:.3f}s, max {ordered[-1]:.3f}s",
        file=console,
    )
    print(f"target p99 <= {TARGET_P99:.0f}s: {'met' if p99 <= TARGET_P99 else 'NOT met'}", file=console)
    return {"trials": len(ordered), "p50": p50, "p99": p99, "max": ordered[-1]}


def down(summary: dict) -> int:
    return sum(m["state"] != "UP" for m in summary["monitors"].values())


def blind_report(world: World, calls: dict[str, int], publishes: dict[str, int], blind_ticks: list) -> dict:
    votes = sum(len(r.get("votes", [])) for r in world.reports)
    ticks = {name: walls[1:] for name, walls in world.ticks.items()}  # without the warm-up round
    return {
        "restarts": calls.get("ssm:SendCommand", 0),
        "pages": publishes.get("autoheal-notify", 0),
        "alarm_topic_publishes": publishes.get("autoheal-alarms", 0),
        "votes": votes,
        "acted": sum(len(r.get("acted", [])) for r in world.reports),
        "acted_sample": next(
            (r["acted"][0] | {"by": r["region"]} for r in world.reports if r.get("acted")), None
        ),
        "confirmations": len(world.confirms),
        "confirmed_monitors": sum(asked for _, _, asked in world.confirms),
        "confirm_seconds": [round(wall, 3) for _, wall, _ in world.confirms],
        "errors": [error for r in world.reports for error in r.get("errors", [])],
        "blind_down": [sum(m["state"] == "DOWN" for m in t["monitors"].values()) for t in blind_ticks],
        "tick_seconds": {name: [round(w, 3) for w in walls] for name, walls in ticks.items()},
        "aws_calls": calls,
    }


def print_blind(args: argparse.Namespace, fig: dict, console: Any) -> None:
    def say(text: str) -> None:
        print(text, file=console)

    say(
        f"{args.blind} blind ({args.fault}) for {args.minutes} simulated minutes over {args.monitors} "
        f"monitors, timeout {args.timeout:g}s, thresholds 1/1, quorum 2 of 3:"
    )
    say(
        f"  restarts (ssm:SendCommand): {fig['restarts']}   pages (notify topic): {fig['pages']}, "
        f"chat posts: {fig['chat_posts']}   alarms published: {fig['alarm_topic_publishes']}"
    )
    say(
        f"  its own view: {fig['blind_down'][0]} monitors DOWN from its first blind tick, "
        f"{fig['blind_down'][-1]} at its last"
    )
    say(
        f"  votes cast {fig['votes']}, quorum changes recorded {fig['acted']}, confirmations asked "
        f"{fig['confirmations']} ({fig['confirmed_monitors']} monitors), notes written {fig['notes']}"
    )
    for name, walls in fig["tick_seconds"].items():
        say(f"  {name} tick wall: median {statistics.median(walls):.2f}s, max {max(walls):.2f}s")
    if fig["confirm_seconds"]:
        say(f"  a confirmation's wall: max {max(fig['confirm_seconds']):.2f}s")
    say(f"  errors the gates reported: {len(fig['errors'])} {fig['errors'][:3]}")
    say("  AWS calls: " + ", ".join(f"{k} {v}" for k, v in sorted(fig["aws_calls"].items())))
    say(
        f"  wall {fig['wall_seconds']:.0f}s "
        f"(the first round, every monitor new: {fig['warm_up_seconds']:.0f}s)"
    )
    met = fig["restarts"] == 0 and fig["pages"] == 0 and fig["chat_posts"] == 0
    say(f"target 0 restarts and 0 pages: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
