"""Three vantage points in the local world (moto regions, a probe per region, a fault proxy per
region in front of the app): only a quorum's word reaches on_alarm and its restart."""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from chalicelib.aws.clients import client
from chalicelib.vantage.confirm import ConfirmRequest
from chalicelib.vantage.votes import VoteStore
from sandbox.vantage_world import REGIONS, InvokeApi, Region, make_region, vantage_settings
from tests.runbooks.conftest import World, base_config, sns_event, with_body

BOUND_SECONDS = 45.0  # each scenario, all regions and confirmations included


@dataclass
class Vantage:
    world: World
    api: InvokeApi
    regions: dict[str, Region]

    @property
    def votes(self) -> VoteStore:
        return VoteStore(self.world.config.settings.state_table, REGIONS[0])

    def tick(self, name: str) -> dict:
        """One region's scheduled probe, then the confirmations it asked for."""
        summary = self.regions[name].tick()
        self.api.settle()
        return summary

    def alarms(self) -> list[dict]:
        """What reached the home alarms topic (the queue standing in for on_alarm)."""
        sqs, found = client("sqs"), []
        while messages := sqs.receive_message(
            QueueUrl=self.world.resources.alarm_queue_url, MaxNumberOfMessages=10
        ).get("Messages", []):
            for message in messages:
                found.append(json.loads(json.loads(message["Body"])["Message"]))
                sqs.delete_message(
                    QueueUrl=self.world.resources.alarm_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return found

    def act(self, alarm: dict) -> dict:
        """on_alarm, as SNS delivers the message to it."""
        return self.world.on_alarm(with_body(sns_event("alarm-probe-down"), alarm))


@pytest.fixture
def vantage(
    make_world: Callable[..., World], health, known_good: str, invoke_api: InvokeApi
) -> Iterator[Callable[..., Vantage]]:
    built: list[Region] = []

    def build(quorum: int | None = None, maintenance: dict | None = None) -> Vantage:
        config = base_config(health.url)
        config["settings"] |= vantage_settings(known_good, quorum)
        if maintenance:
            config["maintenance"] = maintenance
        config["monitors"] = [config["monitors"][0] | {"failure_threshold": 1}]  # web, restart-web
        world = make_world(config)
        regions = {
            name: make_region(name, world.config, health.url, known_good, invoke_api) for name in REGIONS
        }
        built.extend(regions.values())
        return Vantage(world, invoke_api, regions)

    yield build
    for region in built:
        region.app.stop()
        region.eyes.stop()


def all_see_it_up(v: Vantage) -> None:
    for name in REGIONS:
        assert v.tick(name)["monitors"]["web"]["state"] == "UP"
    assert v.alarms() == []


def test_one_region_blind_opens_no_incident_restarts_nothing_and_leaves_a_note(vantage) -> None:
    began = time.monotonic()
    v = vantage()
    all_see_it_up(v)
    v.regions["us-east-1"].app.mode = "hang"
    summary = v.tick("us-east-1")
    for _ in range(3):  # it stays blind: its state stays DOWN, no new vote, nothing more
        v.tick("us-east-1")
    assert summary["monitors"]["web"]["state"] == "DOWN"  # its own view
    [report] = summary["vantage"]
    assert report["asked"] == {"eu-west-1": "asked", "ap-northeast-2": "asked"}
    assert sorted(region for region, _ in v.api.received) == ["ap-northeast-2", "eu-west-1"]
    [note] = v.votes.notes("web")
    assert "us-east-1: DOWN, timeout after 1s" in note["evidence"]
    assert "eu-west-1: UP" in note["evidence"] and "ap-northeast-2: UP" in note["evidence"]
    assert v.alarms() == []
    assert v.world.commands() == [] and v.world.published() == []
    assert v.votes.acted("web").status == "UP"
    assert time.monotonic() - began < BOUND_SECONDS


def test_two_regions_seeing_it_fail_are_acted_on_with_each_regions_evidence(vantage) -> None:
    began = time.monotonic()
    v = vantage()
    all_see_it_up(v)
    for name in ("us-east-1", "eu-west-1"):
        v.regions[name].app.mode = "hang"
    v.tick("us-east-1")
    [alarm] = v.alarms()
    assert (alarm["AlarmName"], alarm["NewStateValue"]) == ("autoheal-probe-web", "ALARM")
    reason = alarm["NewStateReason"]
    assert reason.startswith("2 of 3 vantage points see it failing: ")
    for seen in (
        "us-east-1: DOWN, timeout after 1s",
        "eu-west-1: DOWN, timeout after 1s",
        "ap-northeast-2: UP",
    ):
        assert seen in reason
    out = v.act(alarm)
    [command] = v.world.commands()
    assert command["DocumentName"] == "autoheal-restart"
    assert out["handled"][0]["commands"] == [command["CommandId"]]
    assert "eu-west-1: DOWN" in v.world.incident("web").reason
    told = "\n".join(envelope["Message"] for envelope in v.world.published())
    assert "us-east-1: DOWN, timeout after 1s" in told and "eu-west-1: DOWN, timeout after 1s" in told
    # Recovery needs the quorum too: the first region to see it well asks the others.
    for name in ("us-east-1", "eu-west-1"):
        v.regions[name].app.mode = "pass"
    v.tick("us-east-1")
    [ok] = v.alarms()
    assert ok["NewStateValue"] == "OK"
    # the first two UP votes make the quorum; the third may still be its word from the outage
    assert re.match(r"[23] of 3 vantage points see it healthy: ", ok["NewStateReason"])
    assert v.votes.pending() == []
    assert time.monotonic() - began < BOUND_SECONDS


def test_a_region_whose_self_check_fails_does_not_vote(vantage) -> None:
    v = vantage()
    all_see_it_up(v)
    # us-east-1 is blind to everything, its self-check too; eu-west-1 cannot reach the app.
    for proxy in (v.regions["us-east-1"].app, v.regions["us-east-1"].eyes, v.regions["eu-west-1"].app):
        proxy.mode = "hang"
    summary = v.tick("eu-west-1")
    cast = v.votes.votes("web")
    last = max(vote.window for vote in cast)
    votes = {vote.region: vote.verdict for vote in cast if vote.window == last}
    assert votes == {"eu-west-1": "DOWN", "us-east-1": "ABSTAIN", "ap-northeast-2": "UP"}
    assert v.alarms() == [] and v.world.commands() == []
    assert summary["vantage"][0]["notes"] == []  # its report was written before the others voted
    assert "us-east-1: abstained, self-check failed: timeout after 3s" in v.votes.notes("web")[0]["evidence"]
    # Its own tick: it sees the monitor DOWN but abstains, and asks nobody.
    blind = v.tick("us-east-1")
    assert blind["vantage"][0]["asked"] == {} and blind["vantage"][0]["votes"][0].startswith(
        "us-east-1: abstained"
    )
    assert v.alarms() == []


def test_a_region_that_never_answers_leaves_the_others_quorum_to_decide(vantage) -> None:
    v = vantage()
    all_see_it_up(v)
    v.api.silent.add("ap-northeast-2")  # its probe function never runs
    for name in ("us-east-1", "eu-west-1"):
        v.regions[name].app.mode = "hang"
    v.tick("us-east-1")
    [alarm] = v.alarms()
    assert alarm["NewStateValue"] == "ALARM"
    assert "ap-northeast-2: no answer" in alarm["NewStateReason"]


def test_a_lone_failure_with_a_silent_region_stays_unconfirmed_and_says_so(vantage) -> None:
    v = vantage()
    all_see_it_up(v)
    v.api.silent.add("ap-northeast-2")
    v.api.silent.add("eu-west-1")
    v.regions["us-east-1"].app.mode = "hang"
    summary = v.tick("us-east-1")
    [report] = summary["vantage"]
    [unconfirmed] = report["unconfirmed"]
    assert unconfirmed["monitor"] == "web"
    assert unconfirmed["evidence"].endswith("eu-west-1: no answer; ap-northeast-2: no answer")
    assert v.alarms() == [] and v.world.commands() == []


def test_the_vote_that_makes_the_first_quorum_over_a_lone_failure_leaves_the_note(vantage) -> None:
    """No region has voted before (a fresh deployment): the quorum that first records UP must
    still note the blind region's failure, whichever confirmation arrives last."""
    v = vantage()
    v.api.silent.update({"eu-west-1", "ap-northeast-2"})  # answered by hand, one after the other
    v.regions["us-east-1"].app.mode = "hang"
    v.tick("us-east-1")
    asked = {region: event for region, event in v.api.received}
    v.regions["eu-west-1"].confirm(asked["eu-west-1"])
    last = v.regions["ap-northeast-2"].confirm(asked["ap-northeast-2"])
    assert last["acted"] == [{"monitor": "web", "status": "UP", "evidence": last["acted"][0]["evidence"]}]
    [note] = v.votes.notes("web")
    assert "us-east-1: DOWN, timeout after 1s" in note["evidence"]
    assert v.alarms() == [] and v.world.commands() == []


def test_a_confirmation_reaches_the_probe_function_through_its_handler(vantage) -> None:
    """The asynchronous invoke's payload, as Lambda hands it to app.py's probe: it checks the
    named monitors and votes in the asker's window instead of running a tick."""
    v = vantage()
    event = json.loads(ConfirmRequest(7, ("web", "gone"), "eu-west-1").payload())
    answer = v.world.app.app.handler_map["probe"](event, v.world.context("probe", 30))
    assert answer["asked_by"] == "eu-west-1" and answer["errors"] == []
    assert answer["votes"] == [answer["votes"][0]] and answer["votes"][0].startswith("us-east-1: UP")
    [vote] = v.votes.votes("web", 7)
    assert (vote.region, vote.verdict) == ("us-east-1", "UP")


def test_a_tick_of_the_probe_function_publishes_only_through_the_quorum(vantage, health) -> None:
    v = vantage()
    health.status = 500  # the home region's own probe goes straight to the app
    tick = {"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events"}
    tick |= {"account": "", "time": "", "region": "us-east-1", "resources": [], "detail": {}}
    first = v.world.app.app.handler_map["probe"](tick, v.world.context("probe", 60))
    assert first["monitors"]["web"]["state"] == "DOWN" and first["outbox_pending"] == 0
    v.api.settle()
    [alarm] = v.alarms()  # published once, however many regions flushed at once
    assert alarm["NewStateValue"] == "ALARM"
    # a real outage: the first region to confirm makes the quorum (both may have voted by then)
    assert re.match(r"[23] of 3 vantage points see it failing: ", alarm["NewStateReason"])
    assert "us-east-1: DOWN, status 500" in alarm["NewStateReason"]


def test_an_outage_right_after_a_recovery_in_the_same_window_is_confirmed_at_once(vantage) -> None:
    """The others' UP votes of the recovery's round are older than the new failure: they are no
    answer to it, so the region that sees it asks again instead of writing a note."""
    v = vantage()
    all_see_it_up(v)
    for name in REGIONS:
        v.regions[name].app.mode = "hang"
    v.tick("us-east-1")
    assert [a["NewStateValue"] for a in v.alarms()] == ["ALARM"]
    for name in REGIONS:
        v.regions[name].app.mode = "pass"
    v.tick("us-east-1")  # the region whose own view went DOWN sees it recover, and asks
    assert [a["NewStateValue"] for a in v.alarms()] == ["OK"]
    for name in REGIONS:
        v.regions[name].app.mode = "hang"
    summary = v.tick("ap-northeast-2")  # its own view was UP (asked for the recovery): it turns now
    assert summary["vantage"][0]["notes"] == []
    assert [a["NewStateValue"] for a in v.alarms()] == ["ALARM"]
    assert v.votes.notes("web") == []


def status_json(v: Vantage) -> dict:
    body = client("s3").get_object(Bucket=v.world.config.settings.status_bucket, Key="status.json")["Body"]
    data = body.read()
    return json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)  # stored gzipped


def test_a_blind_region_other_than_home_leaves_the_status_site_alone(vantage) -> None:
    """Its own view is a vote, not news: only the home region writes the public site."""
    v = vantage()
    all_see_it_up(v)
    assert status_json(v)["healthy"] is True
    v.regions["eu-west-1"].app.mode = "hang"
    v.tick("eu-west-1")
    assert status_json(v)["healthy"] is True
    assert v.alarms() == []


def test_a_confirmed_failure_under_maintenance_is_recorded_not_published(vantage) -> None:
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 3600))
    window = {"start": start, "duration": "2h", "message": "database upgrade"}
    v = vantage(maintenance={"windows": [window]})
    all_see_it_up(v)
    for name in ("us-east-1", "eu-west-1"):
        v.regions[name].app.mode = "hang"
    summary = v.tick("us-east-1")
    assert v.votes.acted("web").status == "DOWN"  # the quorum holds, and is recorded
    assert v.alarms() == [] and v.votes.pending() == []  # but nobody acts and nobody is told
    assert summary["monitors"]["web"]["state"] == "DOWN"


def test_a_vote_the_home_table_refused_is_cast_at_the_next_tick(vantage) -> None:
    """The region's own fold turns DOWN once: a vote lost to an unreachable home table would never
    be cast again, so the gate keeps it and casts it with the next cycle."""
    v = vantage()
    all_see_it_up(v)
    gate = v.regions["us-east-1"].gate
    home = gate.store
    gate.store = VoteStore("autoheal-state-gone", REGIONS[0])  # the home table out of reach
    for name in ("us-east-1", "eu-west-1"):
        v.regions[name].app.mode = "hang"
    failed = v.tick("us-east-1")
    assert "ResourceNotFoundException" in failed["vantage"][0]["errors"][0]
    assert v.alarms() == []
    gate.store = home
    v.tick("us-east-1")  # no new transition: its state stayed DOWN
    [alarm] = v.alarms()
    assert (
        alarm["NewStateValue"] == "ALARM" and "us-east-1: DOWN, timeout after 1s" in alarm["NewStateReason"]
    )
