"""ALB listeners, rules and target groups: look-ups, forward weights, stickiness, target health.

Reads go through the shared client (retried on any transient error). Calls that change the
listener never are retried blindly: a read timeout after ModifyListener may hide a change that
happened, so the mutating client makes one attempt, and this module retries only answers that
prove nothing changed (throttling).

>>> alb = Elbv2()
>>> listener = alb.find_listener("web-alb", 443)                           # doctest: +SKIP
>>> alb.set_forward(listener, {blue_arn: 90, green_arn: 10}, sticky=None)   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, TypeVar

from chalicelib.aws.clients import client

MAX_WEIGHT = 999
THROTTLING = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "SlowDown"}
)
THROTTLE_ATTEMPTS = 4
T = TypeVar("T")


class ListenerError(ValueError):
    """A listener, rule or target group that is not what autoheal expects (names what is wrong)."""


@dataclass(frozen=True)
class Forward:
    """A forward action as ALB holds it: weight per target group ARN, and its stickiness."""

    weights: Mapping[str, int]
    stickiness: Mapping[str, Any]  # {"Enabled": bool, "DurationSeconds": int}

    @property
    def sticky(self) -> bool:
        return bool(self.stickiness.get("Enabled"))

    def shares(self) -> dict[str, float]:
        """Each group's share of traffic (weights are relative; a group at 0 counts as absent)."""
        total = sum(self.weights.values())
        return {arn: round(w / total, 6) for arn, w in self.weights.items() if w} if total else {}

    def same_as(self, other: Forward) -> bool:
        """The same traffic split, and stickiness on or off alike."""
        return self.shares() == other.shares() and self.sticky == other.sticky


def mutating_client() -> Any:
    """One attempt per call (botocore would also resend after a read timeout); the shared
    cached client, so `clients.reset()` points it at a new endpoint too."""
    from chalicelib.aws import clients

    return clients.mutating_client("elbv2")


def retry_throttled(call: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
    """Retry `call` only when AWS refused it for throttling (the request was not carried out)."""
    from botocore.exceptions import ClientError

    for attempt in range(THROTTLE_ATTEMPTS):
        try:
            return call()
        except ClientError as exc:
            if (
                exc.response.get("Error", {}).get("Code") not in THROTTLING
                or attempt == THROTTLE_ATTEMPTS - 1
            ):
                raise
            sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def forward_of(actions: list[Mapping[str, Any]]) -> Optional[Forward]:
    """The forward action among `actions` (None when the listener redirects or answers itself)."""
    for action in actions:
        if action.get("Type") != "forward":
            continue
        config = action.get("ForwardConfig")
        if config:
            weights = {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in config.get("TargetGroups", [])}
            sticky = dict(config.get("TargetGroupStickinessConfig") or {"Enabled": False})
        else:
            weights, sticky = {action["TargetGroupArn"]: 1}, {"Enabled": False}
        return Forward(weights, sticky)
    return None


def forward_action(weights: Mapping[str, int], stickiness: Mapping[str, Any]) -> dict[str, Any]:
    groups = [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights.items()]
    sticky: dict[str, Any] = {"Enabled": bool(stickiness.get("Enabled"))}
    if sticky["Enabled"]:
        sticky["DurationSeconds"] = int(stickiness.get("DurationSeconds") or 3600)
    return {
        "Type": "forward",
        "ForwardConfig": {"TargetGroups": groups, "TargetGroupStickinessConfig": sticky},
    }


def check_weights(weights: Mapping[str, int]) -> None:
    if not weights:
        raise ListenerError("weights: expected at least one target group")
    for arn, weight in weights.items():
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= MAX_WEIGHT:
            raise ListenerError(f"weights[{arn}]: expected a whole number 0..{MAX_WEIGHT}, got {weight!r}")
    if not any(weights.values()):
        raise ListenerError("weights: expected at least one weight above 0")


class Elbv2:
    """The ALB calls autoheal makes; every method is one concept."""

    def __init__(self, reads: Any = None, writes: Any = None) -> None:
        self._reads = reads
        self._writes = writes

    @property
    def reads(self) -> Any:
        return self._reads or client("elbv2")

    @property
    def writes(self) -> Any:
        return self._writes or mutating_client()

    # -- look-ups ---------------------------------------------------------------------------
    def load_balancer_arn(self, name: str) -> str:
        try:
            found = self.reads.describe_load_balancers(Names=[name])["LoadBalancers"]
        except self.reads.exceptions.LoadBalancerNotFoundException:
            found = []
        if not found:
            raise ListenerError(f"listener.load_balancer: no load balancer named {name!r}")
        return found[0]["LoadBalancerArn"]

    def find_listener(self, load_balancer: str, port: int) -> str:
        arn = self.load_balancer_arn(load_balancer)
        for page in self.reads.get_paginator("describe_listeners").paginate(LoadBalancerArn=arn):
            for listener in page["Listeners"]:
                if int(listener["Port"]) == int(port):
                    return listener["ListenerArn"]
        raise ListenerError(f"listener.port: {load_balancer!r} has no listener on port {port}")

    def target_group_arn(self, name: str) -> str:
        try:
            found = self.reads.describe_target_groups(Names=[name])["TargetGroups"]
        except self.reads.exceptions.TargetGroupNotFoundException:
            found = []
        if not found:
            raise ListenerError(f"target group {name!r} does not exist")
        return found[0]["TargetGroupArn"]

    def target_groups_exist(self, arns: list[str]) -> None:
        """ALB refuses a forward to a missing group; moto does not, so autoheal checks itself."""
        try:
            found = self.reads.describe_target_groups(TargetGroupArns=list(arns))["TargetGroups"]
        except self.reads.exceptions.TargetGroupNotFoundException:
            found = []
        missing = set(arns) - {g["TargetGroupArn"] for g in found}
        if missing:
            raise ListenerError(f"target groups do not exist: {', '.join(sorted(missing))}")

    # -- reads ------------------------------------------------------------------------------
    def default_actions(self, listener_arn: str) -> list[dict[str, Any]]:
        listeners = self.reads.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
        return list(listeners[0]["DefaultActions"])

    def rules(self, listener_arn: str) -> list[dict[str, Any]]:
        """The listener's rules (not the default one), by priority: moto keeps creation order."""
        rules: list[dict[str, Any]] = []
        marker: Optional[str] = None
        while True:
            kwargs = {"ListenerArn": listener_arn, **({"Marker": marker} if marker else {})}
            page = self.reads.describe_rules(**kwargs)
            rules += [r for r in page["Rules"] if not r.get("IsDefault")]
            marker = page.get("NextMarker")
            if not marker:
                return sorted(rules, key=lambda r: int(r["Priority"]))

    def read_forward(self, listener_arn: str) -> Optional[Forward]:
        return forward_of(self.default_actions(listener_arn))

    def target_health(self, target_group_arn: str) -> dict[str, str]:
        """Registered target id -> ALB's health state ("healthy", "unhealthy", "initial", ...)."""
        described = self.reads.describe_target_health(TargetGroupArn=target_group_arn)
        return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in described["TargetHealthDescriptions"]}

    # -- changes (never retried blindly) ----------------------------------------------------
    def set_forward(
        self, listener_arn: str, weights: Mapping[str, int], stickiness: Mapping[str, Any]
    ) -> None:
        """Point the listener's default action at `weights` with `stickiness` on or off."""
        check_weights(weights)
        self.target_groups_exist(list(weights))
        self.set_default_actions(listener_arn, [forward_action(weights, stickiness)])

    def set_default_actions(self, listener_arn: str, actions: list[Mapping[str, Any]]) -> None:
        retry_throttled(lambda: self.writes.modify_listener(ListenerArn=listener_arn, DefaultActions=actions))

    def set_rule_forward(
        self, rule_arn: str, weights: Mapping[str, int], stickiness: Mapping[str, Any]
    ) -> None:
        check_weights(weights)
        self.target_groups_exist(list(weights))
        action = forward_action(weights, stickiness)
        retry_throttled(lambda: self.writes.modify_rule(RuleArn=rule_arn, Actions=[action]))

    def create_rule(
        self,
        listener_arn: str,
        priority: int,
        conditions: list[Mapping[str, Any]],
        actions: list[Mapping[str, Any]],
    ) -> str:
        created = retry_throttled(
            lambda: self.writes.create_rule(
                ListenerArn=listener_arn, Priority=priority, Conditions=conditions, Actions=actions
            )
        )
        return created["Rules"][0]["RuleArn"]

    def delete_rule(self, rule_arn: str) -> None:
        # Deleted already: what we wanted.
        with contextlib.suppress(self.writes.exceptions.RuleNotFoundException):
            retry_throttled(lambda: self.writes.delete_rule(RuleArn=rule_arn))


def name_of_target_group(arn: str) -> str:
    """arn:...:targetgroup/web-blue/abc -> web-blue."""
    return arn.split(":targetgroup/")[-1].split("/")[0]


def metric_dimension(arn: str) -> str:
    """The ARN's suffix CloudWatch uses as a dimension: targetgroup/web-blue/abc, app/web-alb/abc."""
    return arn.split(":", 5)[-1].split("/", 1)[-1] if ":loadbalancer/" in arn else arn.split(":", 5)[-1]


def comparable(actions: list[Mapping[str, Any]]) -> str:
    """Actions as a string equal for the same behaviour: a forward by its traffic shares and
    stickiness (ALB may describe a one-group forward with a ForwardConfig, and 100/0 is 1/0),
    the rest as written less the Order ALB adds."""
    normal: list[Any] = []
    for action in actions:
        forward = forward_of([action])
        if forward is not None:
            duration = forward.stickiness.get("DurationSeconds") if forward.sticky else None
            sticky = [forward.sticky, duration]
            normal.append({"Type": "forward", "shares": forward.shares(), "sticky": sticky})
        else:
            normal.append({k: v for k, v in action.items() if k != "Order"})
    return json.dumps(normal, sort_keys=True)
