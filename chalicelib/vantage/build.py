"""Building the gate for the region this Lambda runs in (Lambda sets AWS_REGION)."""

from __future__ import annotations

import os
from typing import Callable, Optional

from chalicelib.config.model import Config
from chalicelib.state.thresholds import DOWN, Transition
from chalicelib.vantage.confirm import LambdaAsker
from chalicelib.vantage.gate import HeldBack, Probe, QuorumGate
from chalicelib.vantage.votes import VoteStore


def this_region(home: str) -> str:
    """The region this Lambda runs in (Lambda sets AWS_REGION); the home region when unset."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or home


def writes_public_site(config: Config) -> bool:
    """Only the home region writes the status site (the bucket's name is global): another
    region's view of a monitor is a vote, never the public page."""
    points = config.settings.vantage
    return points is None or this_region(points.home) == points.home


def build_gate(config: Config, probe: Probe, region: Optional[str] = None) -> Optional[QuorumGate]:
    """None without settings.vantage_points; raises when this region is not one of them (its
    votes would never count: better a failed cold start than a silent probe)."""
    points = config.settings.vantage
    if points is None:
        return None
    region = region or this_region(points.home)
    if region not in points.regions:
        raise ValueError(f"this probe runs in {region}, not one of settings.vantage_points")
    store = VoteStore(config.settings.state_table, points.home)
    return QuorumGate(config, region, store, LambdaAsker(), probe)


def maintenance_hold(under_maintenance: Callable[[Optional[str], Optional[str], float], bool]) -> HeldBack:
    """The probe's hold (ProbeRun.held_back) without a ProbeRun: a DOWN under maintenance is
    recorded, not published; a recovery always goes."""

    def held_back(transition: Transition) -> bool:
        return transition.new == DOWN and under_maintenance(transition.monitor, None, transition.at)

    return held_back
