"""The daily digest's delivery against moto's DynamoDB: once per fire time, only when due, a
failed channel tried again, a dead invocation's claim taken over, folded channels told."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.config.model import ChannelPolicy, Digest, Settings
from chalicelib.incidents.digest import MAX_ATTEMPTS, STALE_CLAIM_SECONDS, DailyDigest
from chalicelib.runbooks.incident import HEALED, RESOLVED, Incident, RunPosition
from chalicelib.runbooks.incident_store import IncidentStore
from sandbox.provision import create_table

TABLE = "digest-state"
NINE = datetime(2026, 6, 2, 9, 0, tzinfo=UTC).timestamp()  # the digest's fire time, 09:00 UTC
POLICIES = {"email": ChannelPolicy(), "sms": ChannelPolicy(delay=120.0, max_per_hour=5)}
SETTINGS = Settings(TABLE, "a", "n", "b", notify=POLICIES, digest=Digest(channels=("email",)))


class People:
    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[str, ...]]] = []
        self.refusing: set[str] = set()

    def send(self, notice, channels) -> list[str]:
        self.sent.append((notice.title, tuple(channels)))
        return [c for c in channels if c in self.refusing]


@pytest.fixture
def world(local_aws):
    create_table(TABLE)
    store = IncidentStore(TABLE)
    healed = Incident("restart-web/*", "web is failing", NINE - 3600, "ALARM", name="web")
    healed.run = RunPosition("restart-web", ["i-1"], state=HEALED, commands=["c-1"])
    healed.status, healed.resolved_at = RESOLVED, NINE - 3500
    store.save(healed)
    now = [NINE - 60]
    people = People()
    folded = {"sms": 0}
    digest = DailyDigest(
        SETTINGS, store, people.send, lambda c, since, until: folded.get(c, 0), lambda: now[0]
    )
    return now, people, digest, folded


def test_sent_once_when_due_and_not_before(world):
    now, people, digest, _ = world
    assert digest.send_due() == {} and people.sent == []  # 08:59
    now[0] = NINE + 20
    assert digest.send_due() == {"digest": "sent"}
    assert people.sent == [
        ("autoheal daily: 1 incident, 1 healed by autoheal, 0 needed a person", ("email",))
    ]
    now[0] = NINE + 80
    assert digest.send_due() == {} and len(people.sent) == 1  # the next minute: nothing more


def test_a_channel_whose_limit_folded_messages_hears_of_them(world):
    now, people, digest, folded = world
    folded["sms"] = 4
    now[0] = NINE + 5
    digest.send_due()
    [(title, channels)] = people.sent
    assert channels == ("email", "sms")


def test_a_channel_that_failed_is_tried_again_a_bounded_number_of_times(world):
    now, people, digest, _ = world
    people.refusing = {"email"}
    now[0] = NINE + 5
    assert digest.send_due() == {"digest": "failed: email"}
    for minute in range(1, MAX_ATTEMPTS + 3):
        now[0] = NINE + 5 + 60 * minute
        digest.send_due()
    assert len(people.sent) == MAX_ATTEMPTS  # then it gives up until tomorrow's
    people.refusing = set()
    now[0] = NINE + 86400 + 5  # tomorrow's tells tomorrow's day, which had no incident
    assert digest.send_due() == {"digest": "nothing happened"} and len(people.sent) == MAX_ATTEMPTS


def test_a_recovered_channel_gets_it_on_the_next_minute(world):
    now, people, digest, _ = world
    people.refusing = {"email"}
    now[0] = NINE + 5
    digest.send_due()
    people.refusing = set()
    now[0] += 60
    assert digest.send_due() == {"digest": "sent"}
    now[0] += 60
    assert digest.send_due() == {} and len(people.sent) == 2


def test_a_claim_whose_invocation_died_is_taken_over(world):
    now, people, digest, _ = world
    now[0] = NINE + 5

    def dies(notice, channels):
        raise SystemExit("the Lambda died after its claim")

    dying = DailyDigest(SETTINGS, digest.incidents, dies, None, lambda: now[0])
    with pytest.raises(SystemExit):
        dying.send_due()
    now[0] += 60
    assert digest.send_due() == {}  # a live invocation may still be sending
    now[0] = NINE + 5 + STALE_CLAIM_SECONDS + 1
    assert digest.send_due() == {"digest": "sent"} and len(people.sent) == 1


def test_a_day_with_nothing_sends_nothing(local_aws):
    create_table(TABLE)
    people = People()
    digest = DailyDigest(SETTINGS, IncidentStore(TABLE), people.send, None, lambda: NINE + 5)
    assert digest.send_due() == {"digest": "nothing happened"} and people.sent == []


def test_a_digest_needs_its_settings():
    with pytest.raises(ValueError, match="settings.digest"):
        DailyDigest(Settings(TABLE, "a", "n", "b"), IncidentStore(TABLE), People().send)


def test_two_follow_ups_retrying_at_once_send_it_once(world):
    now, people, digest, _ = world
    people.refusing = {"email"}
    now[0] = NINE + 5
    assert digest.send_due() == {"digest": "failed: email"}
    people.refusing = set()
    now[0] += 60
    rival_said = []

    def send_while_another_retries(notice, channels):
        if not rival_said:  # the other follow_up reads the record while this one sends
            rival_said.append(rival.send_due())
        return people.send(notice, channels)

    first = DailyDigest(SETTINGS, digest.incidents, send_while_another_retries, None, lambda: now[0])
    rival = DailyDigest(SETTINGS, digest.incidents, people.send, None, lambda: now[0])
    assert first.send_due() == {"digest": "sent"}
    assert rival_said == [{}]
    assert len(people.sent) == 2  # the failed try, then one retry


def test_two_follow_ups_taking_over_a_dead_claim_at_once_send_it_once(world):
    now, people, digest, _ = world
    now[0] = NINE + 5

    def dies(notice, channels):
        raise SystemExit("the Lambda died after its claim")

    with pytest.raises(SystemExit):
        DailyDigest(SETTINGS, digest.incidents, dies, None, lambda: now[0]).send_due()
    now[0] = NINE + 5 + STALE_CLAIM_SECONDS + 1
    rival_said = []

    def send_while_another_takes_over(notice, channels):
        if not rival_said:
            rival_said.append(digest.send_due())
        return people.send(notice, channels)

    first = DailyDigest(SETTINGS, digest.incidents, send_while_another_takes_over, None, lambda: now[0])
    assert first.send_due() == {"digest": "sent"}
    assert rival_said == [{}] and len(people.sent) == 1


def test_a_send_that_raises_is_released_and_tried_again_the_next_minute(world):
    now, people, digest, _ = world
    now[0] = NINE + 5

    def raises(notice, channels):
        raise ConnectionError("SNS unreachable")

    failing = DailyDigest(SETTINGS, digest.incidents, raises, None, lambda: now[0])
    assert failing.send_due() == {"digest": "failed: email"}
    now[0] += 60  # well before a claim would count as stale
    assert digest.send_due() == {"digest": "sent"} and len(people.sent) == 1


def test_a_slow_send_whose_claim_was_taken_over_does_not_ask_for_another(world):
    now, people, digest, _ = world
    now[0] = NINE + 5

    def slow_then_fails(notice, channels):
        now[0] += STALE_CLAIM_SECONDS + 1  # meanwhile another follow_up takes it over and sends
        assert digest.send_due() == {"digest": "sent"}
        return list(channels)

    slow = DailyDigest(SETTINGS, digest.incidents, slow_then_fails, None, lambda: now[0])
    slow.send_due()
    now[0] += 60
    assert digest.send_due() == {} and len(people.sent) == 1
