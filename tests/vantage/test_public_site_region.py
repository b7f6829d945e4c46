"""Only the home region writes the public status site: the bucket's name is global, and another
region's view of a monitor is a vote, not the page people read."""

from __future__ import annotations

import pytest

from chalicelib.config.loader import parse_config
from chalicelib.vantage.build import this_region, writes_public_site
from tests.vantage.test_vantage_settings import BASE, CHECK, THREE


@pytest.mark.parametrize(
    ("region", "writes"), [("us-east-1", True), ("eu-west-1", False), ("ap-northeast-2", False)]
)
def test_only_the_home_region_writes_the_site(monkeypatch, region, writes):
    monkeypatch.setenv("AWS_REGION", region)
    assert writes_public_site(parse_config(BASE + THREE + CHECK)) is writes


def test_without_vantage_points_the_one_region_writes_it(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert writes_public_site(parse_config(BASE)) is True


def test_lambdas_region_comes_first_then_the_default_then_home(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert this_region("us-east-1") == "us-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert this_region("us-east-1") == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "ap-northeast-2")
    assert this_region("us-east-1") == "ap-northeast-2"
