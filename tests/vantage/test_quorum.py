"""The quorum's arithmetic: properties over any votes, then the cases people ask about."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.vantage.quorum import ABSTAIN, DOWN, UP, Vote, acted, is_note, tally, window_of

REGIONS = ("us-east-1", "eu-west-1", "ap-northeast-2")
ALL = (*REGIONS, "sa-east-1")  # a region not configured: its votes never count

votes_st = st.builds(
    Vote,
    region=st.sampled_from(ALL),
    monitor=st.sampled_from(("web", "api")),
    window=st.integers(0, 2),
    verdict=st.sampled_from((DOWN, UP, ABSTAIN)),
    error=st.one_of(st.none(), st.sampled_from(("timeout after 5s", "connection refused"))),
    latency_ms=st.one_of(st.none(), st.floats(0, 10_000)),
    at=st.integers(0, 5).map(float),
)
quorum_st = st.integers(1, 3)


def down_voters(votes: list[Vote], monitor: str, window: int) -> set[str]:
    """Configured regions that cast any DOWN vote on this monitor in this window."""
    return {
        v.region
        for v in votes
        if v.monitor == monitor and v.window == window and v.region in REGIONS and v.verdict == DOWN
    }


@settings(max_examples=300)
@given(st.lists(votes_st, max_size=12), quorum_st)
def test_never_down_with_fewer_than_quorum_regions_voting_down(votes: list[Vote], quorum: int) -> None:
    outcome = tally(votes, REGIONS, quorum, "web", 1)
    if outcome.status == DOWN:
        assert len({v.region for v in outcome.down}) >= quorum
        # each counted DOWN vote is a real vote of that region on this monitor in this window
        assert set(outcome.down) <= set(votes)
        assert all(v.verdict == DOWN and v.window == 1 and v.monitor == "web" for v in outcome.down)
    if len(down_voters(votes, "web", 1)) < quorum:
        assert outcome.status != DOWN


@settings(max_examples=300)
@given(st.lists(votes_st, max_size=12), quorum_st)
def test_an_abstaining_region_never_counts(votes: list[Vote], quorum: int) -> None:
    outcome = tally(votes, REGIONS, quorum, "web", 1)
    counted = {v.region for v in outcome.down + outcome.up}
    assert counted.isdisjoint({v.region for v in outcome.abstained})
    # Turning every abstention into nothing changes neither what is decided nor who decided it.
    without = [v for v in votes if v.verdict != ABSTAIN]
    if not any(v.verdict == ABSTAIN for v in votes if v.region in REGIONS):
        assert tally(without, REGIONS, quorum, "web", 1) == outcome
    # A region's abstention is only ever its latest word: it adds nothing to either side.
    for abstention in outcome.abstained:
        assert abstention.region not in {v.region for v in outcome.down + outcome.up}
        assert abstention.region not in outcome.missing


@settings(max_examples=300)
@given(st.lists(votes_st, max_size=12), quorum_st, st.randoms(use_true_random=False), st.data())
def test_the_order_of_arrival_and_repeats_change_nothing(votes, quorum, random, data) -> None:
    arrived = list(votes)
    random.shuffle(arrived)
    repeats = data.draw(st.lists(st.sampled_from(votes), max_size=4)) if votes else []
    arrived += repeats
    random.shuffle(arrived)
    for monitor in ("web", "api"):
        for window in (0, 1, 2):
            assert tally(arrived, REGIONS, quorum, monitor, window) == tally(
                votes, REGIONS, quorum, monitor, window
            )


@given(st.lists(votes_st, max_size=12), quorum_st, st.sampled_from((UP, DOWN, "UNKNOWN")))
def test_recovery_needs_the_quorum_too(votes: list[Vote], quorum: int, current: str) -> None:
    outcome = tally(votes, REGIONS, quorum, "web", 1)
    after = acted(current, outcome)
    if current == DOWN and after == UP:
        assert len({v.region for v in outcome.up}) >= quorum
    if after is None:
        assert outcome.status in (None, current)


def vote(region: str, verdict: str, at: float = 10.0, error: str | None = None) -> Vote:
    return Vote(region, "web", 3, verdict, error, 12.0, at)


def test_one_region_blind_is_a_note_not_an_incident() -> None:
    votes = [
        vote("us-east-1", DOWN, error="timeout after 5s"),
        vote("eu-west-1", UP),
        vote("ap-northeast-2", UP),
    ]
    outcome = tally(votes, REGIONS, 2, "web", 3)
    assert outcome.status == UP
    assert acted(UP, outcome) is None
    assert is_note(UP, outcome)


def test_two_regions_seeing_it_fail_make_it_down_with_each_regions_evidence() -> None:
    votes = [
        vote("us-east-1", DOWN, error="timeout after 5s"),
        vote("ap-northeast-2", DOWN, error="connection refused"),
    ]
    outcome = tally(votes, REGIONS, 2, "web", 3)
    assert acted(UP, outcome) == DOWN
    assert outcome.missing == ("eu-west-1",)
    assert outcome.evidence() == (
        "ap-northeast-2: DOWN, connection refused (12 ms); us-east-1: DOWN, timeout after 5s (12 ms); "
        "eu-west-1: no answer"
    )


def test_an_abstention_and_a_silence_leave_one_down_vote_unconfirmed() -> None:
    votes = [vote("us-east-1", DOWN, error="timeout after 5s"), vote("eu-west-1", ABSTAIN, error="timeout")]
    outcome = tally(votes, REGIONS, 2, "web", 3)
    assert outcome.status is None and acted(UP, outcome) is None
    assert outcome.missing == ("ap-northeast-2",)
    assert "eu-west-1: abstained, self-check failed: timeout" in outcome.evidence()


def test_a_later_vote_of_one_region_replaces_its_earlier_one() -> None:
    votes = [vote("us-east-1", DOWN, at=1), vote("us-east-1", UP, at=2), vote("eu-west-1", DOWN, at=1)]
    assert tally(votes, REGIONS, 2, "web", 3).status is None


def test_windows_are_whole_intervals() -> None:
    assert window_of(119.9, 60) == 1 and window_of(120.0, 60) == 2


@settings(max_examples=300)
@given(st.lists(votes_st, max_size=12), quorum_st)
def test_abstentions_of_silent_regions_change_no_decision(votes: list[Vote], quorum: int) -> None:
    before = tally(votes, REGIONS, quorum, "web", 1)
    shut = [Vote(r, "web", 1, ABSTAIN, "self-check timed out", None, 9.0) for r in before.missing]
    after = tally(votes + shut, REGIONS, quorum, "web", 1)
    assert (after.status, after.down, after.up) == (before.status, before.down, before.up)
    assert after.missing == ()


@settings(max_examples=300)
@given(st.lists(votes_st, max_size=12), quorum_st, st.integers(0, 6).map(float))
def test_votes_older_than_the_round_never_count(votes: list[Vote], quorum: int, since: float) -> None:
    outcome = tally(votes, REGIONS, quorum, "web", 1, since)
    assert all(vote.at >= since for vote in outcome.votes)
    assert outcome == tally([v for v in votes if v.at >= since], REGIONS, quorum, "web", 1)
