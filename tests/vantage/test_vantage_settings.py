"""settings.vantage_points, settings.quorum and settings.vantage_self_check: read, and refused by key."""

from __future__ import annotations

import pytest

from chalicelib.config.errors import ConfigError
from chalicelib.config.loader import parse_config
from chalicelib.config.vantage import VantagePoints

BASE = """settings:
  state_table: autoheal-state
  alarm_topic: autoheal-alarms
  notify_topic: autoheal-notify
  status_bucket: autoheal-status
"""
THREE = "  vantage_points: [us-east-1, eu-west-1, ap-northeast-2]\n"
CHECK = "  vantage_self_check: https://checkip.example.org/\n"


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(BASE + text)
    return raised.value.errors


def test_absent_keys_leave_one_region_acting_alone() -> None:
    assert parse_config(BASE).settings.vantage is None


def test_three_regions_default_to_a_majority_and_one_url_for_all() -> None:
    vantage = parse_config(BASE + THREE + CHECK).settings.vantage
    assert vantage == VantagePoints(
        ("us-east-1", "eu-west-1", "ap-northeast-2"),
        2,
        {r: "https://checkip.example.org/" for r in ("us-east-1", "eu-west-1", "ap-northeast-2")},
    )
    assert vantage.home == "us-east-1"
    assert vantage.others("eu-west-1") == ("us-east-1", "ap-northeast-2")


def test_a_self_check_per_region_and_an_explicit_quorum() -> None:
    text = THREE + "  quorum: 3\n  vantage_self_check:\n"
    text += "".join(
        f"    {r}: http://{r}.example.org/ok\n" for r in ("us-east-1", "eu-west-1", "ap-northeast-2")
    )
    vantage = parse_config(BASE + text).settings.vantage
    assert vantage.quorum == 3
    assert vantage.self_check["eu-west-1"] == "http://eu-west-1.example.org/ok"


def test_a_quorum_above_the_count_is_refused() -> None:
    assert errors_of(THREE + CHECK + "  quorum: 4\n") == [
        "settings.quorum: expected at most the 3 vantage points, got 4"
    ]


def test_a_region_listed_twice_is_refused() -> None:
    text = "  vantage_points: [us-east-1, eu-west-1, us-east-1]\n" + CHECK
    assert errors_of(text) == ["settings.vantage_points[2]: us-east-1 is listed twice"]


def test_a_name_not_shaped_like_a_region_is_refused() -> None:
    text = "  vantage_points: [us-east-1, Europe, eu-west-1]\n" + CHECK
    assert errors_of(text) == [
        "settings.vantage_points[1]: expected a region name like us-east-1, got 'Europe'"
    ]


def test_one_region_is_refused_with_the_way_to_say_it() -> None:
    errors = errors_of("  vantage_points: [us-east-1]\n" + CHECK)
    assert errors == [
        "settings.vantage_points: expected two regions or more (one region acts alone: leave the key out)"
    ]


def test_the_self_check_is_required_and_must_cover_each_region() -> None:
    assert errors_of(THREE) == [
        "settings.vantage_self_check: required with settings.vantage_points: "
        "a known-good URL each region probes"
    ]
    text = THREE + "  vantage_self_check: {us-east-1: 'https://a.example.org/', eu-west-2: 'ftp://x'}\n"
    assert errors_of(text) == [
        "settings.vantage_self_check: no URL for eu-west-1",
        "settings.vantage_self_check: no URL for ap-northeast-2",
        "settings.vantage_self_check.eu-west-2: not one of settings.vantage_points "
        "(us-east-1, eu-west-1, ap-northeast-2)",
    ]


def test_quorum_or_self_check_without_regions_is_refused() -> None:
    assert errors_of("  quorum: 2\n" + CHECK) == [
        "settings.quorum: only with settings.vantage_points",
        "settings.vantage_self_check: only with settings.vantage_points",
    ]
