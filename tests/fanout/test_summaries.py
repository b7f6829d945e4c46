"""Shard summaries in the local DynamoDB, and shard messages from any JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from chalicelib.fanout.message import BadMessage, ShardMessage
from chalicelib.fanout.summaries import Summary, SummaryStore
from chalicelib.probe.result import ProbeResult
from tests.support.strategies import json_values


def result(name: str, ok: bool) -> ProbeResult:
    return ProbeResult(name, ok, 12.5 if ok else None, None if ok else "timeout after 1s", 1, 100.0)


def test_a_summary_keeps_each_result(deploy):
    deploy("monitors:\n  - {name: web, url: 'http://127.0.0.1:9/'}\n")
    store = SummaryStore("autoheal-state")
    results = {"web": result("web", True), "api": result("api", False)}
    assert store.save(Summary(3, 600.0, 0, 601.0, results))
    [found] = store.load()
    assert (found.shard, found.tick, found.cycle) == (3, 600.0, 0)
    assert {n: (r.ok, r.latency_ms, r.reason) for n, r in found.results.items()} == {
        "web": (True, 12.5, None),
        "api": (False, None, "timeout after 1s"),
    }


def test_a_late_summary_never_hides_a_later_cycle_s(deploy):
    deploy("monitors:\n  - {name: web, url: 'http://127.0.0.1:9/'}\n")
    store = SummaryStore("autoheal-state")
    assert store.save(Summary(0, 660.0, 2, 700.0, {"web": result("web", True)}))
    assert not store.save(Summary(0, 600.0, 5, 701.0, {"web": result("web", False)}))  # retried, late
    assert not store.save(Summary(0, 660.0, 1, 702.0, {"web": result("web", False)}))
    assert store.save(Summary(0, 660.0, 2, 703.0, {"web": result("web", True)}))  # the same cycle again
    [found] = store.load()
    assert (found.tick, found.cycle, found.reported_at) == (660.0, 2, 703.0)


@given(json_values)
def test_anything_but_a_shard_message_is_refused_as_such(value) -> None:
    try:
        message = ShardMessage.parse(json.dumps(value))
    except BadMessage:
        return
    assert isinstance(message, ShardMessage)  # only a dict with every field of the right types


def test_a_message_survives_its_round_trip() -> None:
    message = ShardMessage(600.0, 2, 7, 32, 623.0, 633.2, ("web", "api"))
    assert ShardMessage.parse(message.body()) == message
    with pytest.raises(BadMessage):
        ShardMessage.parse(json.dumps({**json.loads(message.body()), "v": 2}))
    with pytest.raises(BadMessage):
        ShardMessage.parse("not json")
