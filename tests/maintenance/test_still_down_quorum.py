"""With vantage points, the end of a maintenance raises what the quorum holds DOWN: not what the
home region's own fold says (a lone blind region's view, or UP while the quorum says DOWN)."""

from __future__ import annotations

import time

from chalice.test import Client

from chalicelib.state.store import StateStore
from chalicelib.state.thresholds import DOWN, UP, MonitorState
from chalicelib.vantage.votes import Acted, VoteStore
from tests.maintenance.test_maintenance_world import invoke

CONFIG = """  vantage_points: [us-east-1, eu-west-1, ap-northeast-2]
  vantage_self_check: 'http://127.0.0.1:9/ok'
monitors:
  - {name: web, url: 'http://127.0.0.1:9/healthz'}
  - {name: api, url: 'http://127.0.0.1:9/api'}
"""


def own_view(**statuses: str) -> None:
    """The home region's own fold, as its probe saved it."""
    now = time.time()
    StateStore("autoheal-state").save(
        {n: MonitorState(s, 1, 0, now, "timeout after 1s") for n, s in statuses.items()}
    )


def quorum_holds(**statuses: str) -> None:
    votes = VoteStore("autoheal-state", "us-east-1")
    for name, status in statuses.items():
        reason = f"2 of 3 vantage points see it {'failing' if status == DOWN else 'healthy'}: ..."
        assert votes.change(name, Acted(), status, 1, None, reason)


def maintenance_ends(deployment) -> dict:
    with Client(deployment.app.app) as chalice:
        assert invoke(chalice, "maintenance", {"action": "on", "for": "5m"})["mode"] == "on"
        return invoke(chalice, "maintenance", {"action": "off"})


def test_a_monitor_the_home_region_alone_sees_down_is_not_raised(deploy) -> None:
    deployment = deploy(CONFIG)
    own_view(web=DOWN, api=UP)  # the home region was blind to web
    quorum_holds(web=UP, api=UP)
    ended = maintenance_ends(deployment)
    assert ended["still_down"] == []
    assert deployment.alarms_published() == []


def test_a_monitor_the_quorum_holds_down_is_raised_though_the_home_region_sees_it_up(deploy) -> None:
    deployment = deploy(CONFIG)
    own_view(web=UP, api=UP)
    quorum_holds(web=DOWN, api=UP)  # recorded under maintenance: held back, never published
    ended = maintenance_ends(deployment)
    assert ended["still_down"] == ["web"]
    [alarm] = deployment.alarms_published()
    assert (alarm["AlarmName"], alarm["NewStateValue"]) == ("autoheal-probe-web", "ALARM")
    assert "2 of 3 vantage points see it failing" in alarm["NewStateReason"]


def test_a_region_other_than_home_raises_nothing_at_the_end_of_a_maintenance(deploy) -> None:
    """Its own view is a vote; the home region raises what the quorum holds DOWN."""
    away = CONFIG.replace("[us-east-1, eu-west-1, ap-northeast-2]", "[eu-west-1, us-east-1, ap-northeast-2]")
    deployment = deploy(away)  # this Lambda runs in us-east-1, not the home region
    own_view(web=DOWN, api=UP)
    ended = maintenance_ends(deployment)
    assert ended["still_down"] == []
    assert deployment.alarms_published() == []
