"""A listener's desired state (pure): the traffic action and what overlays it.

>>> d = Desired("arn:listener", "web-alb:443", traffic=(forward_action({"blue": 1}, {}),))
>>> d.actions()[0]["Type"], d.diverted
('forward', False)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional

from chalicelib.aws.elbv2 import Forward, comparable, forward_action, forward_of

MAINTENANCE, FOUND = "maintenance", "found"


@dataclass(frozen=True)
class Overlay:
    """An action in front of the traffic: autoheal's maintenance page, or a non-forward action
    found on the listener that autoheal did not set (kept, never overwritten silently)."""

    kind: str  # MAINTENANCE | FOUND
    actions: tuple[Mapping[str, Any], ...]
    reason: str = ""
    rule_conditions: tuple[Mapping[str, Any], ...] = ()  # the health-check rule kept on the app
    rule_arn: Optional[str] = None


@dataclass(frozen=True)
class Desired:
    listener_arn: str
    name: str  # "<load balancer>:<port>", for people and for look-ups without ELB calls
    traffic: tuple[Mapping[str, Any], ...] = ()  # the forward action as last set (exact form)
    overlay: Optional[Overlay] = None
    applied: str = ""  # comparable() of the actions last read back from the listener
    retired_rule: Optional[str] = None  # a health rule to delete once the restore is confirmed
    by_hand: bool = False  # adopted from a person's change: a shift under way must not go on
    version: int = 0

    @property
    def forward(self) -> Optional[Forward]:
        return forward_of(list(self.traffic))

    @property
    def diverted(self) -> bool:
        return self.overlay is not None and self.overlay.kind == MAINTENANCE

    def actions(self) -> list[dict[str, Any]]:
        chosen = self.overlay.actions if self.overlay is not None else self.traffic
        return [dict(a) for a in chosen]

    def target(self) -> str:
        return comparable(self.actions())

    def with_forward(self, forward: Forward) -> Desired:
        return replace(self, traffic=(forward_action(forward.weights, forward.stickiness),), by_hand=False)


def adopted(listener_arn: str, name: str, live: list[Mapping[str, Any]]) -> Desired:
    """The desired state of a listener autoheal has never written: what it holds now."""
    if forward_of(live) is not None:
        return Desired(listener_arn, name, traffic=tuple(live), applied=comparable(live))
    found = Overlay(FOUND, tuple(live), "found on the listener")
    return Desired(listener_arn, name, overlay=found, applied=comparable(live))


def after_hand_change(desired: Desired, live: list[Mapping[str, Any]]) -> Desired:
    """Adopt what a person set: a forward becomes the traffic (and ends any overlay); anything
    else becomes a FOUND overlay that keeps the saved traffic beneath it."""
    if forward_of(live) is not None:
        return replace(desired, traffic=tuple(live), overlay=None, applied=comparable(live), by_hand=True)
    found = Overlay(FOUND, tuple(live), "changed by hand")
    return replace(desired, overlay=found, applied=comparable(live), by_hand=True)


def to_item(desired: Desired) -> dict[str, Any]:
    item: dict[str, Any] = {
        "listener_arn": desired.listener_arn,
        "name": desired.name,
        "traffic": [dict(a) for a in desired.traffic],
        "applied": desired.applied,
        "by_hand": desired.by_hand,
        "version": desired.version,
    }
    if desired.overlay is not None:
        o = desired.overlay
        item["overlay"] = {
            "kind": o.kind,
            "actions": [dict(a) for a in o.actions],
            "reason": o.reason,
            "rule_conditions": [dict(c) for c in o.rule_conditions],
            "rule_arn": o.rule_arn,
        }
    if desired.retired_rule:
        item["retired_rule"] = desired.retired_rule
    return item


def from_item(item: Mapping[str, Any]) -> Desired:
    raw = item.get("overlay")
    overlay = None
    if raw:
        overlay = Overlay(
            str(raw["kind"]),
            tuple(raw.get("actions", [])),
            str(raw.get("reason", "")),
            tuple(raw.get("rule_conditions", [])),
            raw.get("rule_arn"),
        )
    return Desired(
        listener_arn=str(item["listener_arn"]),
        name=str(item.get("name", "")),
        traffic=tuple(item.get("traffic", [])),
        overlay=overlay,
        applied=str(item.get("applied", "")),
        retired_rule=item.get("retired_rule"),
        by_hand=bool(item.get("by_hand", False)),
        version=int(item["version"]),
    )
