"""The daily digest's text: every outcome, the period, what was folded, and each channel's shape."""

from __future__ import annotations

from chalicelib.incidents.digest_notice import digest_notice, ending
from chalicelib.notify.format import SMS_LIMIT, email_text, slack_payload, sms_text
from chalicelib.notify.gsm7 import septets
from chalicelib.runbooks.incident import ESCALATED, HEALED, OPEN, RESOLVED, STOPPED, Incident, RunPosition

DAY0 = 1_780_000_000.0  # the period is [DAY0, DAY0 + 86400)
UNTIL = DAY0 + 86400


def incident(key, opened, resolved=None, state=None, story=(), escalated=None, commands=1):
    run = RunPosition("restart-web", ["i-1"], state=state, commands=["c"] * commands) if state else None
    return Incident(
        key, f"{key} is failing", DAY0 + opened, "ALARM", name=key, run=run, story=list(story),
        status=RESOLVED if resolved is not None else OPEN,
        resolved_at=DAY0 + resolved if resolved is not None else None,
        escalated_at=DAY0 + escalated if escalated is not None else None,
    )  # fmt: skip


DAY = [
    incident("web", 3600, 3700, HEALED),
    incident("api", 7200, 9000, ESCALATED, escalated=7300, commands=2),
    incident("worker", 10000, 10100, STOPPED, story=["restart-web budget exhausted on i-1"], commands=0),
    incident("db", 20000, 21000, story=["21:00:00 resolved by hand: failover done"]),
    incident("cdn", 30000, 30050),
    incident("search", 80000),  # still open at the digest
    incident("schedule:nightly", 10800, 10900, HEALED, commands=3),
]


def test_every_outcome_is_told_with_what_autoheal_did():
    notice = digest_notice(DAY, DAY0, UNTIL, {})
    assert notice is not None and notice.kind == "digest"
    assert (
        notice.title == "autoheal daily: 6 incidents, 1 healed by autoheal, 3 needed a person, 1 still open"
    )
    lines = "\n".join(notice.lines)
    assert "web: lasted 1m 40s; restart-web, 1 command; healed by autoheal" in lines
    assert "api: lasted 30m 00s; restart-web, 2 commands; escalated to people" in lines
    assert "worker: lasted 1m 40s; restart-web, no action; budget exhausted" in lines
    assert "db: lasted 16m 40s; no action; resolved by hand" in lines
    assert "cdn: lasted 50s; no action; recovered on its own" in lines
    assert "search: open for 1h 46m; no action; still open" in lines
    assert "scheduled nightly: 3 commands; ok" in lines
    assert notice.lines[0].startswith("28 May 21:26 UTC web:")  # oldest first, dated


def test_only_the_period_counts_and_nothing_happened_is_no_digest():
    yesterday = incident("old", -86400 + 10, -86400 + 60, HEALED)
    assert digest_notice([yesterday], DAY0, UNTIL, {}) is None
    assert digest_notice([], DAY0, UNTIL, {"sms": 0}) is None
    spanning = incident("long", -600, 600, HEALED)  # opened before, resolved within: told
    notice = digest_notice([spanning, yesterday], DAY0, UNTIL, {})
    assert notice is not None and len(notice.lines) == 1 and "long" in notice.lines[0]


def test_folded_messages_are_told_even_on_a_quiet_day():
    notice = digest_notice([], DAY0, UNTIL, {"sms": 7, "email": 0})
    assert notice is not None and notice.lines == ("sms: 7 messages held back by its hourly limit",)
    assert notice.title.startswith("autoheal daily: 0 incidents")


def test_outcome_of_an_open_escalated_incident_needs_a_person():
    assert ending(incident("x", 0, escalated=10)).escalated


def test_each_channel_gets_its_shape():
    notice = digest_notice(DAY * 20, DAY0, UNTIL, {"sms": 3})
    assert notice is not None
    text = sms_text(notice)
    assert septets(text) <= SMS_LIMIT and text.startswith("autoheal: autoheal daily: 120 incidents")
    email = email_text(notice)
    assert "The day's incidents:" in email and "What:     Daily digest" in email
    assert "... and 80 more" in email  # 40 listed: a digest stays readable
    assert len(slack_payload(notice)["text"]) <= 3000
