"""VoteStore against moto: a region's later vote stands, a change is recorded once per version,
and a confirmed change stays pending until it is published."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.aws.clients import client
from chalicelib.vantage.quorum import DOWN, UP, Vote
from chalicelib.vantage.votes import VoteStore
from tests.vantage.conftest import home_table_store

HOME = "eu-west-1"  # not the clients' default region: the store speaks to the home region


@pytest.fixture
def store(local_aws) -> Iterator[VoteStore]:
    yield from home_table_store(HOME)


def test_votes_live_in_the_home_region_only(store: VoteStore) -> None:
    store.cast(Vote("us-east-1", "web", 5, DOWN, "timeout after 5s", 5001.2, 100.0))
    assert store.votes("web", 5) == [Vote("us-east-1", "web", 5, DOWN, "timeout after 5s", 5001.2, 100.0)]
    assert "autoheal-state" not in client("dynamodb").list_tables()["TableNames"]  # the default region's


def test_a_later_vote_replaces_an_earlier_one_never_the_reverse(store: VoteStore) -> None:
    later = Vote("us-east-1", "web", 5, UP, None, 30.0, 200.0)
    assert store.cast(Vote("us-east-1", "web", 5, DOWN, "timeout after 5s", 5001.0, 100.0))
    assert store.cast(later)
    # a redelivered confirmation of the earlier probe arrives last
    assert not store.cast(Vote("us-east-1", "web", 5, DOWN, "timeout after 5s", 5001.0, 100.0))
    assert store.votes("web", 5) == [later]
    assert store.votes("web", 6) == [] and store.votes("webapp", 5) == []


def test_a_change_is_recorded_once_per_version(store: VoteStore) -> None:
    held = store.acted("web")
    assert held.status == "UNKNOWN" and held.version == 0
    message = {"AlarmName": "autoheal-probe-web", "NewStateValue": "ALARM"}
    assert store.change("web", held, DOWN, 5, message)
    # a second region read the same version: its change loses, nothing is queued twice
    assert not store.change("web", held, DOWN, 5, message)
    now = store.acted("web")
    assert (now.status, now.window, now.version) == (DOWN, 5, 1)
    [(key, pending)] = store.pending()
    assert pending == message
    assert store.change("web", now, UP, 6, {"AlarmName": "autoheal-probe-web", "NewStateValue": "OK"})
    assert [m["NewStateValue"] for _, m in store.pending()] == ["ALARM", "OK"]  # oldest first
    store.published(key)
    assert [m["NewStateValue"] for _, m in store.pending()] == ["OK"]


def test_a_change_without_a_message_queues_nothing(store: VoteStore) -> None:
    assert store.change("web", store.acted("web"), UP, 5, None)
    assert store.pending() == [] and store.acted("web").status == UP


def test_a_pending_message_is_claimed_by_one_publisher_until_its_claim_runs_out(store: VoteStore) -> None:
    assert store.change("web", store.acted("web"), DOWN, 5, {"NewStateValue": "ALARM"})
    [(key, _)] = store.pending()
    assert store.claim(key, now=100.0, seconds=30.0)
    assert not store.claim(key, now=110.0, seconds=30.0)  # another region flushing at once
    assert store.claim(key, now=131.0, seconds=30.0)  # the first holder died: free again
    store.published(key)
    assert not store.claim(key, now=200.0, seconds=30.0)  # gone: nothing to publish twice


def test_a_batch_of_votes_keeps_a_newer_vote_and_writes_the_rest(store: VoteStore) -> None:
    newer = Vote("us-east-1", "m3", 5, UP, None, 40.0, 200.0)
    assert store.cast(newer)
    batch = [Vote("us-east-1", f"m{i}", 5, DOWN, "timeout after 5s", 5001.0, 100.0) for i in range(150)]
    written = store.cast_many(batch)  # two transactions; the first cancelled once, for m3
    assert [i for i, ok in enumerate(written) if not ok] == [3]
    found = store.round_votes(5, [f"m{i}" for i in range(150)])
    assert found["m3"] == [newer]
    assert all(found[f"m{i}"] == [batch[i]] for i in range(150) if i != 3)


def test_a_batch_of_changes_records_each_once_and_refuses_a_moved_version(store: VoteStore) -> None:
    from chalicelib.vantage.votes import Change

    monitors = [f"m{i}" for i in range(60)]
    assert store.change("m7", store.acted("m7"), UP, 4, None)  # another region, first
    held = store.acted_many(monitors)
    assert store.change("m9", held["m9"], UP, 4, None)  # and after this round read m9
    changes = [Change(m, held[m], DOWN, 5, {"NewStateValue": "ALARM", "m": m}) for m in monitors]
    written = store.change_many(changes)  # 120 writes: two transactions
    assert [m for m, ok in zip(monitors, written, strict=True) if not ok] == ["m9"]
    after = store.acted_many(monitors)
    assert after["m9"].status == UP and after["m7"].version == 2
    assert {m: a.status for m, a in after.items() if m != "m9"} == {m: DOWN for m in monitors if m != "m9"}
    assert sorted(message["m"] for _, message in store.pending()) == sorted(set(monitors) - {"m9"})


def test_a_rounds_votes_are_its_monitors_own_read_as_one_range(store: VoteStore) -> None:
    names = ["m1", "m10", "m1x", "m2", "m20", "m3", "n1"]
    for region in ("us-east-1", "eu-west-1"):
        store.cast_many([Vote(region, name, 5, UP, None, 40.0, 100.0) for name in names])
    store.cast(Vote("us-east-1", "m10", 6, DOWN, "refused", 1.0, 160.0))  # the next window
    wanted = ["m2", "m10", "m1", "m20"]  # m1x lies between them by name, n1 and m3 after
    found = store.round_votes(5, wanted)
    assert sorted(found) == sorted(wanted)
    assert all(sorted(v.region for v in found[m]) == ["eu-west-1", "us-east-1"] for m in wanted)
    assert all(v.window == 5 and v.monitor == m for m in wanted for v in found[m])
