"""Three vantage points in the local world: each region its own probe (a ProbeRun with its own
engine, state table and fault proxies), and a Lambda Invoke API that hands a region's asynchronous
invokes to that region's probe (the region read from the request's SigV4 signature).

Point `AWS_ENDPOINT_URL_LAMBDA` at `InvokeApi().url` before the first confirmation (the regional
clients read it when they are made).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Optional
from urllib.parse import urlsplit

from chalicelib import wiring
from chalicelib.aws.clients import client
from chalicelib.config.model import Config
from chalicelib.monitoring.probe_run import ProbeRun
from chalicelib.probe.engine import ProbeEngine
from chalicelib.state.store import StateStore
from chalicelib.vantage.confirm import LambdaAsker, request_of
from chalicelib.vantage.gate import QuorumGate
from chalicelib.vantage.votes import VoteStore
from sandbox.fault_proxy import FaultProxy
from sandbox.loopback import Quiet, serve, url_of

REGIONS = ("us-east-1", "eu-west-1", "ap-northeast-2")
SIGNED_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/lambda/aws4_request")
CONFIRM_SECONDS = 20.0  # an invoked probe's own deadline


class InvokeApi:
    """POST /2015-03-31/functions/<name>/invocations, InvocationType Event: 202 at once, then the
    signed region's handler runs in a thread of its own, as Lambda queues and runs it."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[dict], Any]] = {}
        self.silent: set[str] = set()  # regions whose function never runs (a region down)
        self.received: list[tuple[str, dict]] = []
        self.answers: list[tuple[str, Any]] = []
        self.threads: list[threading.Thread] = []
        api = self

        class Handler(Quiet):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                event = json.loads(self.rfile.read(length) or b"{}")
                match = SIGNED_REGION.search(self.headers.get("Authorization", ""))
                region = match.group(1) if match else ""
                api.received.append((region, event))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if region in api.handlers and region not in api.silent:
                    thread = threading.Thread(target=api.run, args=(region, event), daemon=True)
                    api.threads.append(thread)
                    thread.start()

        self.server = serve(Handler)

    @property
    def url(self) -> str:
        return url_of(self.server)

    def run(self, region: str, event: dict) -> None:
        self.answers.append((region, self.handlers[region](event)))

    def settle(self, seconds: float = CONFIRM_SECONDS) -> None:
        """Wait for every confirmation started so far (bounded)."""
        end = time.monotonic() + seconds
        for thread in list(self.threads):
            thread.join(max(0.0, end - time.monotonic()))
            assert not thread.is_alive(), "a confirmation did not finish in time"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Region:
    name: str
    app: FaultProxy  # this region's road to the app
    eyes: FaultProxy  # its road to the known-good self-check target
    run: ProbeRun
    summaries: list[dict] = field(default_factory=list)

    @property
    def gate(self) -> QuorumGate:
        assert self.run.vantage is not None
        return self.run.vantage

    def tick(self) -> dict:
        summary = self.run.invoke(deadline=time.monotonic() + 60)
        self.summaries.append(summary)
        return summary

    def confirm(self, event: dict) -> dict:
        request = request_of(event)
        assert request is not None, event
        return self.gate.confirm(request, self.run.held_back, time.monotonic() + CONFIRM_SECONDS)


def local_table(name: str, home_table: str) -> None:
    """A region's own state table (its monitor states), shaped as the home one."""
    ddb = client("dynamodb")
    shape = ddb.describe_table(TableName=home_table)["Table"]
    ddb.create_table(
        TableName=name,
        KeySchema=shape["KeySchema"],
        AttributeDefinitions=shape["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
    )


def make_region(
    name: str, config: Config, app_url: str, check_url: str, api: InvokeApi, only: tuple[str, ...] = ()
) -> Region:
    """`config` is the home one; the region gets its proxies, its table and its own engine, and
    probes the monitors named in `only` (every monitor without it)."""
    app_parts, check_parts = urlsplit(app_url), urlsplit(check_url)
    app = FaultProxy((app_parts.hostname or "", app_parts.port or 80)).start()
    eyes = FaultProxy((check_parts.hostname or "", check_parts.port or 80)).start()
    through = app.url("").rstrip("/")
    chosen = [m for m in config.monitors if not only or m.name in only]
    monitors = tuple(replace(m, url=m.url.replace(app_url.rstrip("/"), through)) for m in chosen)
    points = config.settings.vantage
    assert points is not None
    own_check = {**points.self_check, name: eyes.url(check_parts.path or "/")}
    table_name = f"{config.settings.state_table}-{name}"
    local_table(table_name, config.settings.state_table)
    settings = replace(config.settings, state_table=table_name, vantage=replace(points, self_check=own_check))
    regional = replace(config, settings=settings, monitors=monitors)
    engine = ProbeEngine()
    gate = QuorumGate(
        regional, name, VoteStore(config.settings.state_table, points.home), LambdaAsker(), engine.run
    )
    run = ProbeRun(
        regional,
        engine,
        StateStore(table_name),
        wiring.status_site(),  # the world's site: the gate decides which region may write it
        probe_maintenance(regional, config.settings.state_table),
        vantage=gate,
    )
    region = Region(name, app, eyes, run)
    api.handlers[name] = region.confirm
    return region


def probe_maintenance(config: Config, table: str) -> Callable[[Optional[str], Optional[str], float], bool]:
    """What the probe asks before publishing a DOWN, as wiring builds it, on the home table."""
    from chalicelib.maintenance.silence import or_none, under_maintenance
    from chalicelib.maintenance.store import MaintenanceStore

    return functools.partial(under_maintenance, config, or_none(MaintenanceStore(table).current))


def vantage_settings(check_url: str, quorum: Optional[int] = None) -> dict[str, Any]:
    settings: dict[str, Any] = {"vantage_points": list(REGIONS), "vantage_self_check": check_url}
    return settings | ({"quorum": quorum} if quorum else {})


class KnownGood:
    """What a region's self-check probes: a server that always answers 204."""

    def __init__(self) -> None:
        class Handler(Quiet):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = serve(Handler)

    @property
    def url(self) -> str:
        return url_of(self.server) + "/ok"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class DemoRegions:
    """The demo's three vantage points in front of one monitor of the running world."""

    def __init__(self, regions: dict[str, Region], api: InvokeApi, votes: VoteStore, monitor: str) -> None:
        self.regions, self.api, self.votes, self.monitor = regions, api, votes, monitor

    def blind(self, name: str) -> None:
        self.regions[name].app.mode = "hang"

    def heal(self, name: str) -> None:
        self.regions[name].app.mode = "pass"

    def settled(self, rounds: int = 3) -> str:
        """Rounds until every region's own view is UP (success_threshold may want several)."""
        for _ in range(rounds):
            said = self.round()
            if all(r.summaries[-1]["monitors"][self.monitor]["state"] == "UP" for r in self.regions.values()):
                break
        return said

    def round(self) -> str:
        """A tick of each region, then the confirmations they asked for: what each saw and what
        the quorum holds."""
        seen = []
        for name, region in self.regions.items():
            summary = region.tick()
            seen.append(f"{name} {summary['monitors'][self.monitor]['state']}")
        self.api.settle()
        notes = len(self.votes.notes(self.monitor))
        return f"{', '.join(seen)}; acted on: {self.votes.acted(self.monitor).status}; notes: {notes}"


@contextlib.contextmanager
def vantage_demo(config: Config, monitor: str) -> Iterator[DemoRegions]:
    """Three regions probing `monitor` of a running world, each through its own fault proxy."""
    import os

    from chalicelib.config.vantage import VantagePoints, majority
    from chalicelib.vantage import regional

    known, api = KnownGood(), InvokeApi()
    saved = os.environ.get("AWS_ENDPOINT_URL_LAMBDA")
    os.environ["AWS_ENDPOINT_URL_LAMBDA"] = api.url
    regional.reset()
    points = VantagePoints(REGIONS, majority(len(REGIONS)), {r: known.url for r in REGIONS})
    # One cycle a tick (a tick is a compressed minute; probe_every would fill a real one).
    home = replace(config, settings=replace(config.settings, vantage=points, probe_every=None))
    found = config.monitor(monitor)
    assert found is not None
    app_url = "{0.scheme}://{0.netloc}".format(urlsplit(found.url))
    regions = {name: make_region(name, home, app_url, known.url, api, only=(monitor,)) for name in REGIONS}
    try:
        yield DemoRegions(regions, api, VoteStore(config.settings.state_table, points.home), monitor)
    finally:
        api.settle()
        for region in regions.values():
            region.app.stop()
            region.eyes.stop()
        api.close()
        known.close()
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL_LAMBDA", None)
        else:
            os.environ["AWS_ENDPOINT_URL_LAMBDA"] = saved
        regional.reset()
