"""The quorum above the fan-out threshold: a shard's transitions are votes, as the single
probe's are, and a fanned-out region still answers a confirmation request."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from chalicelib.aws.clients import client
from chalicelib.fanout.plan import THRESHOLD
from chalicelib.fanout.summaries import SummaryStore
from chalicelib.fanout.worker import ShardWorker
from chalicelib.probe.engine import ProbeEngine
from chalicelib.vantage.confirm import ConfirmRequest, LambdaAsker
from chalicelib.vantage.gate import QuorumGate
from chalicelib.vantage.votes import VoteStore
from sandbox.ports import free_port
from sandbox.runtime import drain_envelopes
from sandbox.vantage_world import REGIONS, InvokeApi, Region, make_region, vantage_settings
from tests.fanout.events import shard_event
from tests.runbooks.conftest import World, base_config

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:autoheal-probe-shards"


@dataclass
class ShardRegions:
    world: World
    api: InvokeApi
    regions: dict[str, Region]
    workers: dict[str, ShardWorker]

    @property
    def votes(self) -> VoteStore:
        return VoteStore(self.world.config.settings.state_table, REGIONS[0])

    def shard(self, name: str, monitors: tuple[str, ...] = ("web",)) -> dict:
        """One region's worker takes a shard message, then the confirmations it asked for."""
        answer = self.workers[name].handle(shard_event(monitors, QUEUE_ARN)["Records"], time.monotonic() + 30)
        self.api.settle()
        return answer

    def alarms(self) -> list[dict]:
        return alarms_of(self.world)


def alarms_of(world: World) -> list[dict]:
    """What reached the home alarms topic (the queue standing in for on_alarm)."""
    return [json.loads(e["Message"]) for e in drain_envelopes(client("sqs"), world.resources.alarm_queue_url)]


def shard_worker(region: Region) -> ShardWorker:
    """The region's probe_worker: its config, engine and gate, as wiring.probe_worker builds them."""
    run = region.run
    return ShardWorker(run.config, run.engine, under_maintenance=run.under_maintenance, vantage=region.gate)


@pytest.fixture
def shard_regions(
    make_world: Callable[..., World], health, known_good: str, invoke_api: InvokeApi
) -> Iterator[Callable[[], ShardRegions]]:
    built: list[Region] = []

    def build() -> ShardRegions:
        config = base_config(health.url)
        config["settings"] |= vantage_settings(known_good)
        config["monitors"] = [config["monitors"][0] | {"failure_threshold": 1}]
        world = make_world(config)
        regions = {
            name: make_region(name, world.config, health.url, known_good, invoke_api) for name in REGIONS
        }
        built.extend(regions.values())
        workers = {name: shard_worker(region) for name, region in regions.items()}
        return ShardRegions(world, invoke_api, regions, workers)

    yield build
    for region in built:
        region.app.stop()
        region.eyes.stop()


def all_shards_up(v: ShardRegions) -> None:
    for name in REGIONS:
        assert v.shard(name) == {"batchItemFailures": []}
    assert v.alarms() == []


def test_a_shard_seen_failing_by_one_region_alone_publishes_nothing_and_leaves_a_note(shard_regions) -> None:
    v = shard_regions()
    all_shards_up(v)
    v.regions["eu-west-1"].app.mode = "hang"
    assert v.shard("eu-west-1") == {"batchItemFailures": []}
    [summary] = [s for s in SummaryStore("autoheal-state-eu-west-1").load() if not s.results["web"].ok]
    assert summary.results["web"].reason == "timeout after 1s"  # the region's own view: a vote
    assert sorted(region for region, _ in v.api.received) == ["ap-northeast-2", "us-east-1"]
    assert v.alarms() == []
    [note] = v.votes.notes("web")
    assert "eu-west-1: DOWN, timeout after 1s" in note["evidence"]
    assert "us-east-1: UP" in note["evidence"] and "ap-northeast-2: UP" in note["evidence"]
    assert v.votes.acted("web").status == "UP"


def test_a_shard_seen_failing_by_two_regions_is_published_with_their_evidence(shard_regions) -> None:
    v = shard_regions()
    all_shards_up(v)
    for name in ("eu-west-1", "ap-northeast-2"):
        v.regions[name].app.mode = "hang"
    v.shard("eu-west-1")
    [alarm] = v.alarms()
    assert (alarm["AlarmName"], alarm["NewStateValue"]) == ("autoheal-probe-web", "ALARM")
    reason = alarm["NewStateReason"]
    assert reason.startswith("2 of 3 vantage points see it failing: ")
    assert "eu-west-1: DOWN, timeout after 1s" in reason and "ap-northeast-2: DOWN" in reason
    assert "us-east-1: UP" in reason
    assert v.votes.notes("web") == []


def test_the_probe_worker_function_publishes_only_through_the_quorum(shard_regions, health) -> None:
    """app.py's probe_worker, as wiring builds it in the home region: its shard's DOWN is a vote,
    and the alarm that reaches the topic is the quorum's."""
    v = shard_regions()
    health.status = 500  # every region sees it: the home worker directly, the others through proxies
    handler = v.world.app.app.handler_map["probe_worker"]
    answer = handler(shard_event(("web",), QUEUE_ARN), v.world.context("probe_worker", 70))
    assert answer == {"batchItemFailures": []}
    v.api.settle()
    [alarm] = v.alarms()
    assert re.match(r"[23] of 3 vantage points see it failing: ", alarm["NewStateReason"])
    assert "us-east-1: DOWN, status 500" in alarm["NewStateReason"]


def test_a_fanned_out_region_answers_a_confirmation_with_its_vote(
    make_world: Callable[..., World], health, known_good: str, invoke_api: InvokeApi
) -> None:
    """Above the threshold `probe` is the shard scheduler: asked to confirm, it still probes the
    named monitors and votes in the asker's window."""
    config = base_config(health.url)
    config["settings"] |= vantage_settings(known_good)
    refused = f"http://127.0.0.1:{free_port()}/healthz"
    extra = [{"name": f"m{i}", "url": refused, "timeout": "500ms", "retries": 0} for i in range(THRESHOLD)]
    config["monitors"] = config["monitors"][:1] + extra
    world = make_world(config)
    event = json.loads(ConfirmRequest(7, ("web", "m3"), "eu-west-1").payload())
    answer = world.app.app.handler_map["probe"](event, world.context("probe", 30))
    assert answer["asked_by"] == "eu-west-1" and answer["errors"] == []
    votes = VoteStore("autoheal-state", REGIONS[0])
    [web] = votes.votes("web", 7)
    [m3] = votes.votes("m3", 7)
    assert (web.region, web.verdict) == ("us-east-1", "UP")
    assert (m3.verdict, m3.error) == ("DOWN", "connection refused")


def test_a_shards_vote_the_home_table_refused_is_cast_by_the_next_worker(shard_regions) -> None:
    """A shard's state and outbox are read by key each message: the held vote travels with them
    to whichever container takes the shard next."""
    v = shard_regions()
    all_shards_up(v)
    region = v.regions["eu-west-1"]
    region.gate.store = VoteStore("autoheal-state-gone", REGIONS[0])  # the home table out of reach
    for name in ("eu-west-1", "ap-northeast-2"):
        v.regions[name].app.mode = "hang"
    v.shard("eu-west-1")
    assert v.alarms() == []
    home = VoteStore(v.world.config.settings.state_table, REGIONS[0])
    fresh = QuorumGate(region.run.config, "eu-west-1", home, LambdaAsker(), ProbeEngine().run)
    v.workers["eu-west-1"] = ShardWorker(region.run.config, ProbeEngine(), vantage=fresh)  # a new container
    assert v.shard("eu-west-1") == {"batchItemFailures": []}
    [alarm] = v.alarms()
    assert (
        alarm["NewStateValue"] == "ALARM" and "eu-west-1: DOWN, timeout after 1s" in alarm["NewStateReason"]
    )
