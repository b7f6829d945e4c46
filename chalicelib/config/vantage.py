"""`settings.vantage_points`, `settings.quorum` and `settings.vantage_self_check`: the regions
that probe, how many must agree, and the known-good target each checks before it votes.

The first region listed is the home region: its state table holds the votes and its alarms
topic hears the confirmed transitions (see `chalicelib/vantage`). Absent `vantage_points`: None,
and the probe's region acts alone as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Optional
from urllib.parse import urlsplit

from chalicelib.config.fields import Section, shown


@dataclass(frozen=True)
class VantagePoints:
    regions: tuple[str, ...]
    quorum: int
    # region -> a known-good URL it probes before voting; failing it, the region abstains
    self_check: Mapping[str, str] = field(default_factory=dict)

    @property
    def home(self) -> str:
        return self.regions[0]

    def others(self, region: str) -> tuple[str, ...]:
        return tuple(r for r in self.regions if r != region)


def majority(count: int) -> int:
    """A strict majority.

    >>> majority(3)
    2
    """
    return count // 2 + 1


# us-east-1, eu-west-1, ap-northeast-2, us-gov-west-1, cn-north-1...
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")


def read_vantage(s: Section) -> Optional[VantagePoints]:
    regions = read_regions(s)
    quorum = s.integer("quorum", None, minimum=1)
    self_check = s.raw("vantage_self_check", None)
    if not regions:
        for key, value in (("quorum", quorum), ("vantage_self_check", self_check)):
            if value is not None and "vantage_points" not in s.data:
                s.error("only with settings.vantage_points", key)
        return None
    if quorum is None:
        quorum = majority(len(regions))
    elif quorum > len(regions):
        s.error(f"expected at most the {len(regions)} vantage points, got {quorum}", "quorum")
    return VantagePoints(regions, quorum, read_self_check(s, self_check, regions))


def read_regions(s: Section) -> tuple[str, ...]:
    if "vantage_points" not in s.data:
        s.seen.add("vantage_points")
        return ()
    regions = s.string_list("vantage_points")
    path = s.key_path("vantage_points")
    good: list[str] = []
    for i, region in enumerate(regions):
        if not REGION.match(region):
            s.errors.append(f"{path}[{i}]: expected a region name like us-east-1, got {shown(region)}")
        elif region in good:
            s.errors.append(f"{path}[{i}]: {region} is listed twice")
        else:
            good.append(region)
    if len(regions) < 2:
        s.error("expected two regions or more (one region acts alone: leave the key out)", "vantage_points")
    return tuple(good)


def read_self_check(s: Section, value: object, regions: tuple[str, ...]) -> Mapping[str, str]:
    """One URL every region probes, or one per region (every region named, no other)."""
    key = "vantage_self_check"
    if value is None:
        s.error("required with settings.vantage_points: a known-good URL each region probes", key)
        return {}
    if isinstance(value, str):
        value = {region: value for region in regions}
    if not isinstance(value, Mapping):
        s.error(f"expected a URL or a mapping of region to URL, got {shown(value)}", key)
        return {}
    for region in regions:
        if region not in value:
            s.error(f"no URL for {region}", key)
    checks: dict[str, str] = {}
    for region, url in value.items():
        where = f"{key}.{region}"
        if region not in regions:
            s.error(f"not one of settings.vantage_points ({', '.join(regions)})", where)
        elif (
            not isinstance(url, str)
            or urlsplit(url).scheme not in ("http", "https")
            or not urlsplit(url).hostname
        ):
            s.error(f"expected an http(s) URL, got {shown(url)}", where)
        else:
            checks[str(region)] = url
    return checks
