"""Per-channel hourly limits against moto's DynamoDB: the limit holds across writers, the message
that reaches it says so, the rest fold into the digest, and urgent news always goes out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.notify.notice import Notice
from chalicelib.notify.rate_limit import HOUR, HourlyCounts, RateLimited
from sandbox.provision import create_table

TABLE = "rate-state"
START = 1_780_000_000.0 - 1_780_000_000.0 % HOUR  # the turn of an hour


class Phone:
    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def send(self, notice: Notice) -> bool:
        self.sent.append(notice)
        return True


@pytest.fixture
def counts(local_aws) -> HourlyCounts:
    create_table(TABLE)
    return HourlyCounts(TABLE)


def notice(kind: str = "opened", n: int = 0) -> Notice:
    return Notice(kind, f"incident-{n}", f"web-{n} ALARM")


def test_past_the_limit_messages_fold_and_the_last_one_says_so(counts):
    now = [START + 10]
    phone = Phone()
    sms = RateLimited(phone, "sms", 5, counts, now=lambda: now[0])
    for n in range(8):
        assert sms.send(notice(n=n)) is True  # handled either way: nothing to retry
    assert len(phone.sent) == 5
    assert [m.note for m in phone.sent[:4]] == [None] * 4
    assert phone.sent[4].note == "sms limit of 5 an hour reached: more in the daily digest"
    assert counts.folded("sms", START, START + HOUR) == 3
    assert counts.folded("sms", START + HOUR, START + 2 * HOUR) == 0  # each hour in one digest only
    now[0] += HOUR  # the next hour starts afresh
    sms.send(notice(n=9))
    assert len(phone.sent) == 6 and phone.sent[5].note is None
    assert counts.folded("sms", START, START + 2 * HOUR) == 3
    assert counts.folded("email", START, START + 2 * HOUR) == 0


def test_escalations_and_tests_always_go_out_and_count(counts):
    phone = Phone()
    sms = RateLimited(phone, "sms", 2, counts, now=lambda: START)
    for n in range(2):
        sms.send(notice(n=n))
    sms.send(notice("escalated", 7))
    sms.send(notice("budget_exhausted", 8))
    sms.send(notice("test", 9))
    sms.send(notice("action", 10))
    assert [m.kind for m in phone.sent] == ["opened", "opened", "escalated", "budget_exhausted", "test"]
    assert [m.note is not None for m in phone.sent] == [False, True, True, True, True]
    assert counts.folded("sms", START, START + HOUR) == 1


def test_an_escalation_that_reaches_the_limit_says_so(counts):
    """Otherwise the next message would fold with no message having said the limit was reached."""
    phone = Phone()
    sms = RateLimited(phone, "sms", 2, counts, now=lambda: START)
    sms.send(notice(n=1))
    sms.send(notice("escalated", 2))
    sms.send(notice(n=3))
    assert [m.kind for m in phone.sent] == ["opened", "escalated"]
    assert phone.sent[1].note == "sms limit of 2 an hour reached: more in the daily digest"


def test_concurrent_senders_never_pass_the_limit_between_them(counts):
    phone = Phone()
    sms = RateLimited(phone, "sms", 5, counts, now=lambda: START)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: sms.send(notice(n=n)), range(16)))
    assert len(phone.sent) == 5
    assert sum(m.note is not None for m in phone.sent) == 1
    assert counts.folded("sms", START, START + HOUR) == 11


def test_a_counter_that_cannot_be_reached_lets_the_message_through(local_aws):
    phone = Phone()
    sms = RateLimited(phone, "sms", 1, HourlyCounts("no-such-table"), now=lambda: START)
    for n in range(3):
        sms.send(notice(n=n))
    assert len(phone.sent) == 3  # a limit never costs a message to an AWS error
