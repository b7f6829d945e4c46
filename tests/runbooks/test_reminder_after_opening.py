"""A reminder counts from the opening people actually got: an opening held by `group_wait`
(nothing sent yet, last_notified_at still 0) must not be followed by "still failing after 9s"."""

from __future__ import annotations

import copy

from chalicelib.incidents.follow_up import FollowUp

from .conftest import FakeClock, base_config, probe_event


def test_no_reminder_while_the_opening_is_held_and_the_first_comes_remind_every_after_it(make_world, health):
    config = copy.deepcopy(base_config(health.url))
    config["settings"]["group_wait"] = "30s"  # remind_every: 10m
    world = make_world(config)
    world.on_alarm(probe_event("ALARM", "api", "api-held"))  # api has no runbook
    assert world.kinds() == []  # the opening waits for group_wait
    opened = world.incident("api")
    assert opened.last_notified_at == 0.0
    clock = FakeClock(opened.opened_at)
    follow_up = FollowUp(world.config, world.store(), world.engine(clock.clock), clock=clock.now)

    clock.set(9)
    assert follow_up.invoke(deadline=clock.monotonic() + 60)["reminded"] == []
    assert world.kinds() == []
    clock.set(40)  # group_wait is over: the opening goes out now
    follow_up.invoke(deadline=clock.monotonic() + 60)
    assert world.kinds() == ["opened"]

    reminded_at = []
    for seconds in (60, 600, 639, 640, 700):
        clock.set(seconds)
        if follow_up.invoke(deadline=clock.monotonic() + 60)["reminded"]:
            reminded_at.append(seconds)
    assert reminded_at == [640]  # ten minutes after the opening was sent, not after it opened
    assert world.kinds() == ["reminder"]
