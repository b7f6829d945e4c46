"""Blast radius: which of a runbook's targets a signal lets it act on, and in what waves.

A run acts on the intersection of the runbook's targets (the tier) and what the signal names: an
`InstanceId` dimension, an `AutoScalingGroupName` (its instances), a `TargetGroup` (its unhealthy
targets). Never on anything outside the tier. Whatever the set, it is acted on in waves of at most
`max_concurrent` targets and `max_share` of the tier, with a verify between waves.

A scope dimension that is present but empty (or blank) names nothing, never the whole tier: the
alarm is malformed for targeting, and a run for it acts on no target.

>>> scope = SignalScope.from_dimensions({"InstanceId": "i-0b"})
>>> narrow(["i-0a", "i-0b"], scope.instance_ids)
(['i-0b'], [])
>>> SignalScope.from_dimensions({"InstanceId": " ", "AutoScalingGroupName": "web"}).problem
"the alarm's InstanceId dimension is empty: it names no target"
>>> plan_waves(["i-0a", "i-0b", "i-0c", "i-0d"], max_concurrent=3, max_share=0.5, tier_size=4)
[['i-0a', 'i-0b'], ['i-0c', 'i-0d']]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from chalicelib.alarms.model import SCOPE_DIMENSIONS


@dataclass(frozen=True)
class SignalScope:
    """What an alarm's dimensions name, narrower than a whole tier (all empty: nothing narrower)."""

    instance_ids: tuple[str, ...] = ()
    auto_scaling_group: Optional[str] = None
    target_group: Optional[str] = None
    blank: tuple[str, ...] = ()  # scope dimensions the alarm carries empty: it names nothing

    @classmethod
    def from_dimensions(cls, dimensions: Mapping[str, str]) -> SignalScope:
        blank = tuple(
            name for name in SCOPE_DIMENSIONS if name in dimensions and not dimensions[name].strip()
        )
        if blank:
            return cls(blank=blank)  # the other dimensions cannot be trusted to be what was meant
        instance = dimensions.get("InstanceId")
        return cls(
            instance_ids=(instance,) if instance else (),
            auto_scaling_group=dimensions.get("AutoScalingGroupName") or None,
            target_group=dimensions.get("TargetGroup") or None,
        )

    @property
    def is_narrow(self) -> bool:
        return bool(self.instance_ids or self.auto_scaling_group or self.target_group or self.blank)

    @property
    def problem(self) -> Optional[str]:
        """Why the signal names no target at all (None when it is usable)."""
        if not self.blank:
            return None
        plural = "s are" if len(self.blank) > 1 else " is"
        return f"the alarm's {' and '.join(self.blank)} dimension{plural} empty: it names no target"

    def describe(self) -> str:
        if self.blank:
            return f"an empty {' and '.join(self.blank)} dimension"
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
