"""Read what moto stores about load balancers into one immutable snapshot for the front door.

>>> reader = MotoReader(boto3.client, ["web-alb"])   # doctest: +SKIP
>>> snapshot = reader.read()
>>> snapshot.listeners[("web-alb", 80)].rules[-1].priority == DEFAULT_PRIORITY
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.alb_routing import DEFAULT_PRIORITY, Rule, Target, TargetGroup, forward_weights
from sandbox.fleet import ADDRESS_TAG
from sandbox.ports import LOOPBACK


@dataclass(frozen=True)
class ListenerView:
    load_balancer: str
    load_balancer_dimension: str  # app/<name>/<id>: the LoadBalancer dimension of ALB metrics
    arn: str
    port: int
    rules: tuple[Rule, ...]  # by priority, the default rule last


@dataclass(frozen=True)
class Snapshot:
    listeners: Mapping[tuple[str, int], ListenerView] = field(default_factory=dict)
    groups: Mapping[str, TargetGroup] = field(default_factory=dict)
    read_at: float = 0.0


class MotoReader:
    """``clients(service)`` returns a boto3 client; only the named load balancers are read."""

    def __init__(self, clients: Callable[[str], Any], load_balancers: Sequence[str]) -> None:
        self.elbv2 = clients("elbv2")
        self.ec2 = clients("ec2")
        self.load_balancers = list(load_balancers)
        self._addresses: dict[str, str | None] = {}  # instance id -> local address (fixed for life)

    def read(self) -> Snapshot:
        listeners: dict[tuple[str, int], ListenerView] = {}
        found = self.elbv2.describe_load_balancers(Names=self.load_balancers)["LoadBalancers"]
        for balancer in found:
            for listener in self.elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
                "Listeners"
            ]:
                view = ListenerView(
                    balancer["LoadBalancerName"],
                    balancer["LoadBalancerArn"].split(":loadbalancer/")[-1],
                    listener["ListenerArn"],
                    int(listener["Port"]),
                    self._rules(listener["ListenerArn"]),
                )
                listeners[(view.load_balancer, view.port)] = view
        groups = self._groups(_forwarded_groups(listeners.values()))
        return Snapshot(listeners, groups, time.time())

    def _rules(self, listener_arn: str) -> tuple[Rule, ...]:
        rules = []
        for item in _pages(self.elbv2.describe_rules, "Rules", ListenerArn=listener_arn):
            default = item.get("IsDefault") or item.get("Priority") == "default"
            priority = DEFAULT_PRIORITY if default else int(item["Priority"])
            actions = sorted(item.get("Actions", []), key=lambda a: a.get("Order", 0))
            rules.append(Rule(priority, tuple(item.get("Conditions", [])), tuple(actions)))
        return tuple(sorted(rules, key=lambda r: r.priority))

    def _groups(self, arns: list[str]) -> dict[str, TargetGroup]:
        if not arns:
            return {}
        groups = {}
        for group in self.elbv2.describe_target_groups(TargetGroupArns=arns)["TargetGroups"]:
            arn = group["TargetGroupArn"]
            health = self.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            self._learn_addresses([h["Target"]["Id"] for h in health])
            targets = tuple(
                Target(
                    h["Target"]["Id"],
                    self._addresses.get(h["Target"]["Id"]) or f"{LOOPBACK}:{h['Target'].get('Port', 80)}",
                    h["TargetHealth"]["State"] == "healthy",
                )
                for h in health
                if h["TargetHealth"]["State"] not in ("unused", "draining")
            )
            groups[arn] = TargetGroup(arn, group["TargetGroupName"], targets, self._stickiness(arn))
        return groups

    def _stickiness(self, arn: str) -> int | None:
        attributes = self.elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        values = {a["Key"]: a["Value"] for a in attributes}
        if (
            values.get("stickiness.enabled") == "true"
            and values.get("stickiness.type", "lb_cookie") == "lb_cookie"
        ):
            return int(values.get("stickiness.lb_cookie.duration_seconds", 86400))
        return None

    def _learn_addresses(self, ids: Iterable[str]) -> None:
        unknown = [i for i in ids if i.startswith("i-") and i not in self._addresses]
        if not unknown:
            return
        tags = self.ec2.describe_tags(
            Filters=[{"Name": "resource-id", "Values": unknown}, {"Name": "key", "Values": [ADDRESS_TAG]}]
        )["Tags"]
        for instance_id in unknown:
            self._addresses[instance_id] = next(
                (t["Value"] for t in tags if t["ResourceId"] == instance_id), None
            )


def _forwarded_groups(listeners: Iterable[ListenerView]) -> list[str]:
    arns: list[str] = []
    for listener in listeners:
        for rule in listener.rules:
            for action in rule.actions:
                if action.get("Type") == "forward":
                    arns += [a for a in forward_weights(action) if a not in arns]
    return arns


def _pages(call: Callable[..., Mapping[str, Any]], key: str, **kwargs: Any) -> list[Mapping[str, Any]]:
    items: list[Mapping[str, Any]] = []
    while True:
        page = call(**kwargs)
        items += page.get(key, [])
        if not page.get("NextMarker"):
            return items
        kwargs["Marker"] = page["NextMarker"]
