"""Votes kept in the monitors' outboxes until cast: alongside any alarm message, one per monitor,
the newest, and gone once cast."""

from __future__ import annotations

from chalicelib.vantage.gate import HELD_VOTE, drop_votes, held_votes, keep_votes
from chalicelib.vantage.quorum import DOWN, UP, Vote

ALARM = {"AlarmName": "autoheal-probe-web", "NewStateValue": "ALARM"}


def vote(verdict: str, at: float, monitor: str = "web") -> Vote:
    return Vote("eu-west-1", monitor, 7, verdict, "timeout after 1s" if verdict == DOWN else None, 3.0, at)


def test_a_kept_vote_reads_back_as_it_was_and_replaces_the_one_before() -> None:
    outbox: dict[str, list[dict]] = {"web": [ALARM]}
    assert keep_votes(outbox, {"web": vote(DOWN, 1.0)}) == {"web"}
    assert held_votes(outbox) == {"web": vote(DOWN, 1.0)}
    keep_votes(outbox, {"web": vote(UP, 2.0), "api": vote(DOWN, 2.0, "api")})
    assert held_votes(outbox) == {"web": vote(UP, 2.0), "api": vote(DOWN, 2.0, "api")}
    assert outbox["web"][0] == ALARM and len(outbox["web"]) == 2  # the alarm message stays, once


def test_cast_votes_leave_the_outbox_and_only_touched_monitors_are_saved() -> None:
    outbox: dict[str, list[dict]] = {"web": [ALARM], "db": [ALARM]}
    keep_votes(outbox, {"web": vote(DOWN, 1.0), "api": vote(DOWN, 1.0, "api")})
    assert drop_votes(outbox, ["web", "api", "db"]) == {"web", "api"}
    assert outbox == {"web": [ALARM], "db": [ALARM]}


def test_an_entry_that_is_not_a_vote_is_left_out_not_raised() -> None:
    outbox = {"web": [{HELD_VOTE: {"region": "eu-west-1"}}], "api": []}
    keep_votes(outbox, {"api": vote(DOWN, 1.0, "api")})
    assert held_votes(outbox) == {"api": vote(DOWN, 1.0, "api")}
