"""A region's vote is never lost to a cold start: one the home table refused is kept with the
monitor's state, and the next container casts it."""

from __future__ import annotations

from chalicelib import wiring
from chalicelib.monitoring.probe_run import ProbeRun
from chalicelib.probe.engine import ProbeEngine
from chalicelib.state.store import StateStore
from chalicelib.vantage.confirm import LambdaAsker
from chalicelib.vantage.gate import HELD_VOTE, QuorumGate
from chalicelib.vantage.votes import VoteStore
from sandbox.vantage_world import REGIONS, Region
from tests.vantage.test_vantage_world import Vantage, all_see_it_up, vantage  # noqa: F401 - a fixture


def cold_start(v: Vantage, name: str) -> Region:
    """The region's probe in a new container: a new engine, gate and ProbeRun, nothing in memory."""
    old = v.regions[name]
    config = old.run.config
    engine = ProbeEngine()
    gate = QuorumGate(
        config, name, VoteStore(v.world.config.settings.state_table, REGIONS[0]), LambdaAsker(), engine.run
    )
    run = ProbeRun(
        config,
        engine,
        StateStore(config.settings.state_table),
        wiring.status_site(),
        old.run.under_maintenance,
        vantage=gate,
    )
    new = v.regions[name] = Region(name, old.app, old.eyes, run)
    v.api.handlers[name] = new.confirm
    return new


def held_in_outbox(region: Region) -> dict[str, list[dict]]:
    _, outbox = StateStore(region.run.config.settings.state_table).load_with_outbox()
    return {monitor: [e for e in entries if HELD_VOTE in e] for monitor, entries in outbox.items()}


def test_a_vote_the_home_table_refused_is_cast_by_the_next_container(vantage) -> None:  # noqa: F811
    v = vantage()
    all_see_it_up(v)
    region = v.regions["us-east-1"]
    region.gate.store = VoteStore("autoheal-state-gone", REGIONS[0])  # the home table out of reach
    for name in ("us-east-1", "eu-west-1"):
        v.regions[name].app.mode = "hang"
    failed = v.tick("us-east-1")
    assert failed["monitors"]["web"]["state"] == "DOWN"  # saved DOWN: its fold will not turn again
    assert "ResourceNotFoundException" in failed["vantage"][0]["errors"][0]
    assert v.alarms() == []
    [[held]] = held_in_outbox(region).values()
    assert (held[HELD_VOTE]["region"], held[HELD_VOTE]["verdict"]) == ("us-east-1", "DOWN")
    fresh = cold_start(v, "us-east-1")
    summary = v.tick("us-east-1")  # no transition: the vote comes from the saved outbox
    assert summary["transitions"] == []
    [alarm] = v.alarms()
    assert alarm["NewStateValue"] == "ALARM"
    assert "us-east-1: DOWN, timeout after 1s" in alarm["NewStateReason"]
    assert "eu-west-1: DOWN, timeout after 1s" in alarm["NewStateReason"]
    assert held_in_outbox(fresh) == {}  # cast: taken out of the outbox, saved
    assert summary["outbox_pending"] == 0


def test_a_held_vote_is_replaced_by_a_newer_turn_of_the_fold(vantage) -> None:  # noqa: F811
    """Down, refused, then up again before the table came back: the region's word is its last."""
    v = vantage()
    all_see_it_up(v)
    region = v.regions["us-east-1"]
    home = region.gate.store
    region.gate.store = VoteStore("autoheal-state-gone", REGIONS[0])
    region.app.mode = "hang"
    v.tick("us-east-1")
    region.app.mode = "pass"
    v.tick("us-east-1")  # its fold turns UP: the held DOWN is replaced, still unsent
    [[held]] = held_in_outbox(region).values()
    assert held[HELD_VOTE]["verdict"] == "UP"
    region.gate.store = home
    cold_start(v, "us-east-1").tick()
    v.api.settle()
    assert v.alarms() == [] and v.votes.notes("web") == []
    assert {vote.verdict for vote in v.votes.votes("web") if vote.region == "us-east-1"} == {"UP"}
