"""settings.notify: when each channel hears of an incident. Pure: the notifier on an Incident,
a clock and a recorder for a sender."""

from __future__ import annotations

from collections import Counter

import pytest

from chalicelib.config.model import ChannelPolicy
from chalicelib.runbooks.incident import Incident
from chalicelib.runbooks.notifier import IncidentNotifier

POLICIES = {"email": ChannelPolicy(), "sms": ChannelPolicy(delay=120.0), "chat": ChannelPolicy()}


class People:
    """Who heard what: (channel, kind, title); `fail` names channels that refuse."""

    def __init__(self, channels=tuple(POLICIES)) -> None:
        self.channels = list(channels)
        self.heard: list[tuple[str, str, str]] = []
        self.fail: set[str] = set()

    def send(self, notice, channels=None) -> list[str]:
        targets = self.channels if channels is None else list(channels)
        for channel in targets:
            if channel not in self.fail:
                self.heard.append((channel, notice.kind, notice.title))
        return [c for c in targets if c in self.fail]

    def by(self, channel: str) -> list[str]:
        return [kind for c, kind, _ in self.heard if c == channel]


@pytest.fixture
def world():
    now = [1000.0]
    people = People()
    notifier = IncidentNotifier(people.send, lambda: now[0], group_wait=5.0, policies=POLICIES)
    incident = Incident("restart-web/*", "web", now[0], "ALARM", signals=["autoheal-probe-web"])
    return now, people, notifier, incident


def test_healed_within_the_delay_the_delayed_channel_hears_nothing(world):
    now, people, notifier, incident = world
    notifier.open(incident, "web ALARM: timeout")
    assert people.heard == []  # group_wait holds everyone
    now[0] += 6
    notifier.flush(incident)
    notifier.send(incident, "action", "restart sent to i-1")
    now[0] += 40
    notifier.send(incident, "recovered", "web recovered", downtime_s=46)
    assert people.by("email") == ["opened", "action", "recovered"]
    assert people.by("chat") == ["opened", "action", "recovered"]
    assert people.by("sms") == []  # healed by autoheal: the digest has it
    assert incident.quiet == ["sms"] and incident.holds == {} and incident.outbox == []


def test_not_healed_within_the_delay_the_channel_gets_one_opening_with_the_story(world):
    now, people, notifier, incident = world
    notifier.open(incident, "web ALARM: timeout")
    now[0] += 6
    notifier.flush(incident)
    notifier.send(incident, "action", "restart sent to i-1", command_id="c-1")
    now[0] += 60
    assert not notifier.flush(incident)  # 66 s: sms still waits
    now[0] += 60
    assert notifier.due(incident) and notifier.flush(incident)
    [(channel, kind, title)] = [h for h in people.heard if h[0] == "sms"]
    assert (channel, kind, title) == ("sms", "opened", "web ALARM: timeout")
    assert incident.told == ["email", "chat", "sms"] and incident.outbox == []
    now[0] += 30
    notifier.send(incident, "recovered", "web recovered")
    assert people.by("sms") == ["opened", "recovered"]  # told it opened: told it ended


def test_an_escalation_goes_to_every_channel_at_once(world):
    now, people, notifier, incident = world
    notifier.open(incident, "web ALARM: timeout")
    now[0] += 2  # inside group_wait, far inside the sms delay
    notifier.send(incident, "escalated", "restart did not help: a person is needed")
    for channel in POLICIES:
        assert people.by(channel) == ["opened", "escalated"], channel
    assert incident.holds == {}
    now[0] += 10
    notifier.send(incident, "recovered", "web recovered")
    assert Counter(kind for _, kind, _ in people.heard)["recovered"] == 3


def test_recovered_within_group_wait_alone_is_one_recovered_message(world):
    now, people, notifier, incident = world
    notifier.open(incident, "web ALARM: timeout")
    now[0] += 3
    notifier.send(incident, "recovered", "web recovered")
    assert people.by("email") == ["recovered"] and people.by("chat") == ["recovered"]
    assert people.by("sms") == []


def test_immediate_channels_hear_at_once_without_group_wait():
    now = [0.0]
    people = People(("email", "sms"))
    policies = {"email": ChannelPolicy(), "sms": ChannelPolicy(delay=60.0)}
    notifier = IncidentNotifier(people.send, lambda: now[0], group_wait=0.0, policies=policies)
    assert not notifier.holds_opening
    incident = Incident("k", "web", 0.0, "ALARM", signals=["web"])
    notifier.open(incident, "web ALARM")
    assert people.heard == [("email", "opened", "web ALARM")] and set(incident.holds) == {"sms"}


def test_every_channel_delayed_holds_the_opening():
    delayed = {"email": ChannelPolicy(delay=60.0), "sms": ChannelPolicy(delay=60.0)}
    assert IncidentNotifier(People().send, group_wait=0.0, policies=delayed).holds_opening


def test_a_channel_that_failed_keeps_its_notice_for_a_retry(world):
    now, people, notifier, incident = world
    people.fail = {"chat"}
    notifier.open(incident, "web ALARM: timeout")
    now[0] += 6
    notifier.flush(incident)
    assert [entry["channels"] for entry in incident.unsent] == [["chat"]]
    people.fail = set()
    assert notifier.retry_unsent(incident) == 0
    assert people.by("chat") == ["opened"]


def test_a_scheduled_run_tells_only_urgent_news_to_every_channel(world):
    from chalicelib.runbooks.incident import RunPosition

    now, people, notifier, incident = world
    incident.run = RunPosition("nightly", [], scheduled=True)
    notifier.send(incident, "action", "restart sent to i-1")
    assert people.heard == []
    notifier.send(incident, "escalated", "i-1 did not verify")
    assert sorted(c for c, _, _ in people.heard) == ["chat", "email", "sms"]
