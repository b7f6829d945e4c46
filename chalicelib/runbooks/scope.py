"""Blast radius: which of a runbook's targets a signal lets it act on, and in what waves.

A run acts on the intersection of the runbook's targets (the tier) and what the signal names: an
`InstanceId` dimension, an `AutoScalingGroupName` (its instances), a `TargetGroup` (its unhealthy
targets). Never on anything outside the tier. Whatever the set, it is acted on in waves of at most
`max_concurrent` targets and `max_share` of the tier, with a verify between waves.

>>> scope = SignalScope.from_dimensions({"InstanceId": "i-0b"})
>>> narrow(["i-0a", "i-0b"], scope.instance_ids)
(['i-0b'], [])
>>> plan_waves(["i-0a", "i-0b", "i-0c", "i-0d"], max_concurrent=3, max_share=0.5, tier_size=4)
[['i-0a', 'i-0b'], ['i-0c', 'i-0d']]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence


@dataclass(frozen=True)
class SignalScope:
    """What an alarm's dimensions name, narrower than a whole tier (all empty: nothing narrower)."""

    instance_ids: tuple[str, ...] = ()
    auto_scaling_group: Optional[str] = None
    target_group: Optional[str] = None

    @classmethod
    def from_dimensions(cls, dimensions: Mapping[str, str]) -> SignalScope:
        instance = dimensions.get("InstanceId")
        return cls(
            instance_ids=(instance,) if instance else (),
            auto_scaling_group=dimensions.get("AutoScalingGroupName") or None,
            target_group=dimensions.get("TargetGroup") or None,
        )

    @property
    def is_narrow(self) -> bool:
        return bool(self.instance_ids or self.auto_scaling_group or self.target_group)

    def describe(self) -> str:
        if self.instance_ids:
            return f"instance {', '.join(self.instance_ids)}"
        if self.auto_scaling_group:
            return f"Auto Scaling group {self.auto_scaling_group}"
        if self.target_group:
            return f"target group {self.target_group}"
        return "the whole tier"


def narrow(tier: Sequence[str], named: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the named targets inside the tier, the named ones outside it), both sorted."""
    inside = set(tier)
    return sorted(t for t in set(named) if t in inside), sorted(t for t in set(named) if t not in inside)


def wave_size(max_concurrent: int, max_share: float, tier_size: int) -> int:
    """At most `max_concurrent`, at most `max_share` of the tier, and at least one."""
    return max(1, min(max_concurrent, math.floor(max_share * tier_size + 1e-9)))


def plan_waves(
    targets: Sequence[str], max_concurrent: int, max_share: float, tier_size: int
) -> list[list[str]]:
    size = wave_size(max_concurrent, max_share, tier_size)
    ordered = sorted(targets)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]
