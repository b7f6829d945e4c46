"""The benchmarks' pure helpers: what they print is computed from what they measured."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import cost  # noqa: E402 - the bench directory is not a package
import probe_invocation  # noqa: E402
import vantage_blind  # noqa: E402


def test_a_change_is_priced_from_its_vote_store_calls_in_request_units() -> None:
    calls = {"votes:cast": 3, "votes:change": 1, "votes:votes": 3, "votes:acted": 3, "dynamodb:Query": 9}
    dollars, writes, reads = cost.vote_cost(calls)
    assert (writes, reads) == (3 + 3, 6)  # a transaction's items cost two units each
    requests = 10
    expected = 6 * cost.PRICES["dynamodb_write"] + 6 * cost.PRICES["dynamodb_read"]
    assert dollars == pytest.approx(expected + requests * cost.VOTE_BYTES / 1e9 * cost.CROSS_REGION_GB)


def test_three_vantage_points_add_each_line_to_the_regions_probes() -> None:
    one = {"endpoints": 1000, "per_endpoint": 0.009, "seconds": 1.0, "metrics": 6.9, "alarms": 1.6}
    figures = {
        "monitors": 250,
        "outage": {"trials": 10},
        "outage_calls": {"votes:cast": 60, "lambda:Invoke": 40},
        "outage_confirm_seconds": [2.0] * 40,
        "blind": {
            "minutes": 15,
            "aws_calls": {"votes:cast": 750, "lambda:Invoke": 4},
            "confirm_seconds": [60.0],
        },
    }
    lines = cost.vantage_lines(one, figures, changes=60, episodes=3)
    by_name = {what.split(" (")[0]: dollars for what, dollars, _ in lines}
    # The home region's probe, and two without the 10 components' aggregates (20 x $0.30 / 1,000).
    assert by_name["three regions' probes"] == pytest.approx(0.009 + 2 * (0.009 - 0.006))
    per_change = (cost.vote_cost({"votes:cast": 60})[0] + cost.invoke_cost(40, 80.0)) / 20
    assert by_name["quorum changes"] == pytest.approx(60 * per_change)
    episode = cost.vote_cost({"votes:cast": 750})[0] + cost.invoke_cost(4, 60.0)
    assert by_name["blind episodes"] == pytest.approx(3 * episode / 250)
    assert by_name["the home region's look for pending changes"] == pytest.approx(
        cost.TICKS_PER_MONTH * cost.PRICES["dynamodb_read"] / 1000
    )


def test_the_fleet_monitors_hang_slow_flip_and_answer_in_probe_fanouts_shares() -> None:
    monitors = probe_invocation.fleet_monitors(1000, [8001, 8002])
    paths = [url.split("?")[0].rsplit("/", 1)[1] for _, url in monitors]
    assert (paths.count("hang"), paths.count("slow"), paths.count("flip")) == (100, 100, 70)
    assert monitors[1] == ("m1", "http://127.0.0.1:8002/flip?i=1")


def test_the_peak_of_this_process_is_its_own_address_space() -> None:
    assert 0 < probe_invocation.own_peak_mb() <= probe_invocation.peak_mb() + 1


def test_the_p99_of_ten_trials_is_the_slowest() -> None:
    ordered = sorted([4.2, 3.6, 5.7, 3.8, 3.9, 4.5, 4.0, 4.4, 3.7, 5.3])
    assert vantage_blind.percentile(ordered, 0.99) == 5.7
    assert vantage_blind.percentile(ordered, 0.5) in (4.0, 4.2)
