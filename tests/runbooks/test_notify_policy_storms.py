"""settings.notify through the real `on_alarm` and `follow_up`, against moto (SNS with one
filtered subscriber per channel) and a real health endpoint: who hears what, per channel.

`STORM_FIGURES=1` prints the messages per channel (the closing note's figures)."""

from __future__ import annotations

import os
import time
from collections import Counter

from chalicelib.notify.rate_limit import HourlyCounts

from .conftest import base_config, recover_after, set_within
from .test_grouping_storms import deliver, probe


def policy_config(health_url: str, notify: dict, monitors: int = 0) -> dict:
    config = set_within(base_config(health_url), "restart-web", "3s")
    config["settings"]["notify"] = notify
    for n in range(monitors):  # unclaimed monitors: an incident each, no runbook
        url = f"{health_url}/m{n}"
        config["monitors"].append({"name": f"m{n}", "url": url, "component": f"C{n}", "timeout": "1s"})
    return config


def heal_a_hang(world, health) -> None:
    """web hangs, its restart brings it back within the run's verify, then its OK arrives."""
    healer = recover_after(health, 1.0)
    deliver(world, probe("ALARM", "web", 0))  # restart, verify healthy
    healer.join()
    deliver(world, probe("OK", "web", 5))


def per_channel(world) -> dict[str, list]:
    heard = {"email": world.published(), "sms": world.published("sms")}
    if os.environ.get("STORM_FIGURES"):
        print(f"\nPOLICY { ({c: [m['Subject'] for m in ms] for c, ms in heard.items()}) }")
    return heard


def test_healed_within_two_minutes_reaches_email_only(make_world, health):
    world = make_world(policy_config(health.url, {"sms": {"if_not_healed_within": "2m"}}))
    health.status = 500
    heal_a_hang(world, health)
    world.follow_up()

    heard = per_channel(world)
    assert [m["kind"] for m in heard["email"]] == ["opened", "action", "recovered"]
    assert heard["sms"] == []  # autoheal healed it: the digest says so, no SMS at night
    [incident] = [i for i in world.items() if i["pk"] == "incident"]
    assert incident["quiet"] == ["sms"] and incident["holds"] == {}


def test_an_outage_autoheal_cannot_heal_reaches_sms_at_once_when_it_escalates(make_world, health):
    world = make_world(policy_config(health.url, {"sms": {"if_not_healed_within": "2m"}}))
    health.status = 500
    deliver(world, probe("ALARM", "web", 0))  # restart, verify fails, escalate
    heard = per_channel(world)
    # Both blue instances restarted, one at a time, then the escalation.
    assert Counter(m["kind"] for m in heard["email"]) == {"opened": 1, "action": 2, "escalated": 1}
    texts = [m["Message"] for m in heard["sms"]]  # the opening (with its story), then the news
    assert len(texts) == 2 and texts[0] == "autoheal: web ALARM: probe says so"
    assert texts[1].startswith("autoheal: web: the runbook did not bring it back")
    health.status = 200
    deliver(world, probe("OK", "web", 30))
    assert len(world.published("sms")) == 1  # told it opened: told it ended


def test_past_the_sms_limit_messages_fold_and_the_last_says_so(make_world, health):
    world = make_world(policy_config(health.url, {"sms": {"max_per_hour": 3}}, monitors=6))
    for n in range(6):
        deliver(world, probe("ALARM", f"m{n}", n))
    heard = per_channel(world)
    assert len(heard["email"]) == 6  # e-mail has no limit
    texts = [m["Message"] for m in heard["sms"]]
    assert len(texts) == 3
    assert "limit" not in texts[0] and "limit" not in texts[1]
    assert "sms limit of 3 an hour reached" in texts[2] and len(texts[2]) <= 160
    now = time.time()
    assert (
        HourlyCounts("autoheal-state").folded("sms", now - 60, now + 3600) == 3
    )  # this hour (and the last, at its turn)


def test_the_digest_tells_the_phone_what_it_was_spared(make_world, health):
    """The healed hang above, then the next digest (its clock a day on): through the real
    channels, the SMS subscriber gets the day in one segment."""
    from chalicelib import wiring
    from chalicelib.incidents.digest import DailyDigest

    notify = {"sms": {"if_not_healed_within": "2m"}}
    config = policy_config(health.url, notify)
    config["settings"]["digest"] = {"cron": "0 9 * * *", "channels": ["email", "sms"]}
    world = make_world(config)
    health.status = 500
    heal_a_hang(world, health)
    assert world.published("sms") == []
    world.published()

    follow_up = wiring.follow_up()
    assert follow_up.digest is not None  # follow_up asks it every minute
    next_nine = time.time() // 86400 * 86400 + 9 * 3600  # the first 09:00 UTC after now
    if next_nine <= time.time():
        next_nine += 86400
    settings = wiring.config().settings
    digest = DailyDigest(settings, follow_up.incidents, wiring.notifier().send, None, lambda: next_nine + 30)
    assert digest.send_due() == {"digest": "sent"}
    [sms] = world.published("sms")
    assert sms["Message"] == "autoheal: autoheal daily: 1 incident, 1 healed by autoheal, 0 needed a person"
    [email] = world.published()
    assert "web: lasted" in email["Message"] and "healed by autoheal" in email["Message"]
