"""A quorum's DOWN held back by a maintenance keeps the regions' evidence, for the end of the
maintenance to raise it with (the maintenance function reads the acted status, not a region's)."""

from __future__ import annotations

import time

from tests.vantage.test_vantage_world import all_see_it_up, vantage  # noqa: F401 - a fixture


def test_a_held_back_quorum_records_why_for_the_end_of_the_maintenance(vantage) -> None:  # noqa: F811
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 3600))
    v = vantage(maintenance={"windows": [{"start": start, "duration": "2h", "message": "upgrade"}]})
    all_see_it_up(v)
    for name in ("us-east-1", "eu-west-1"):
        v.regions[name].app.mode = "hang"
    v.tick("eu-west-1")
    assert v.alarms() == []
    [acted] = [a for name, a in v.votes.acted_all().items() if name == "web"]
    assert acted.status == "DOWN" and acted.reason is not None
    assert acted.reason.startswith("2 of 3 vantage points see it failing: ")
    assert "eu-west-1: DOWN, timeout after 1s" in acted.reason and "us-east-1: DOWN" in acted.reason
