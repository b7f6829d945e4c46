"""`settings.vantage_points`: the regions that probe, how many must agree, and their self-checks.

The first region listed is the home region: its state table holds the votes and its alarms
topic hears the confirmed transitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


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
