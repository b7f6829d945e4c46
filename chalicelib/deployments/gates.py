"""Gates before every move and while a step bakes, each a kind (`config.kinds.GATES`) decided in
the order it registered; the first that does not pass decides.

A gate of one's own is one module with a `Gate` subclass decorated with `@register` (it reads its
key of `deployments.<name>.gates`, declares its grants and cross-checks, and `decide`s), and its
import (`chalicelib.plugins`). The built-in ones:

- targets: every registered target of the receiving group healthy (none registered fails).
- monitors: each of the deployment's monitors UP (DOWN fails; not yet known holds).
- alarms: none of the alarms matching its globs in ALARM.
- compare (optional, at move time): the candidate's 5xx rate and p95 latency over the step
  against the stable group's; too little traffic holds, never promotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, TypeVar

from chalicelib.aws.cloudwatch import GroupTraffic, utc
from chalicelib.aws.elbv2 import Elbv2, metric_dimension
from chalicelib.config.kinds import GATES, GateKind, Grant
from chalicelib.config.model import Compare, Deployment
from chalicelib.deployments.machine import PASS, Verdict
from chalicelib.deployments.model import Record
from chalicelib.state.thresholds import MonitorState

if TYPE_CHECKING:
    from chalicelib.config.fields import Section
    from chalicelib.config.model import Config

WARMING = ("initial",)  # a target still being registered: wait for it, don't roll back


def compare_traffic(candidate: GroupTraffic, stable: GroupTraffic, rules: Compare) -> Verdict:
    """Pure: candidate against stable over one step.

    >>> compare_traffic(GroupTraffic(10, 0, 0.1), GroupTraffic(90, 0, 0.1), Compare(min_requests=50)).outcome
    'hold'
    """
    for label, traffic in (("candidate", candidate), ("stable", stable)):
        if traffic.requests < rules.min_requests:
            return Verdict(
                "hold",
                f"inconclusive: {label} served {traffic.requests:.0f} requests (< {rules.min_requests})",
                "gate:compare",
            )
    if candidate.error_rate > stable.error_rate + rules.error_rate_margin:
        return Verdict(
            "fail",
            f"candidate 5xx rate {candidate.error_rate:.2%} vs stable {stable.error_rate:.2%} "
            f"(margin {rules.error_rate_margin:.2%})",
            "gate:compare",
        )
    if candidate.p95_seconds is None or stable.p95_seconds is None:
        return Verdict("hold", "inconclusive: no p95 response time for the step", "gate:compare")
    limit = stable.p95_seconds * (1 + rules.latency_margin)
    if candidate.p95_seconds > limit:
        return Verdict(
            "fail",
            f"candidate p95 {candidate.p95_seconds * 1000:.0f} ms vs stable "
            f"{stable.p95_seconds * 1000:.0f} ms (margin {rules.latency_margin:.0%})",
            "gate:compare",
        )
    return Verdict("pass", "candidate within margins of stable", "gate:compare")


def targets_verdict(group: str, health: Mapping[str, str]) -> Verdict:
    if not health:
        return Verdict("fail", f"{group} has no registered targets", "gate:targets")
    bad = {t: s for t, s in health.items() if s != "healthy" and s not in WARMING}
    if bad:
        listed = ", ".join(f"{t} {s}" for t, s in sorted(bad.items()))
        return Verdict("fail", f"{group} targets not healthy: {listed}", "gate:targets")
    warming = sorted(t for t, s in health.items() if s in WARMING)
    if warming:
        return Verdict("hold", f"{group} targets still registering: {', '.join(warming)}", "gate:targets")
    return PASS


def monitors_verdict(names: Sequence[str], states: Mapping[str, MonitorState]) -> Verdict:
    for name in names:
        status = states[name].status if name in states else "UNKNOWN"
        if status == "DOWN":
            return Verdict("fail", f"monitor {name} is DOWN", f"monitor:{name}")
        if status != "UP":
            return Verdict("hold", f"monitor {name} is {status}", f"monitor:{name}")
    return PASS


@dataclass(frozen=True)
class GateContext:
    """What a gate decides on: the readers, the deployment and its record, now, and whether
    traffic is about to move."""

    checker: GateChecker
    deployment: Deployment
    record: Record
    now: float
    at_move: bool


class Gate(GateKind):
    """One registered gate: its config side (`GateKind`) and `decide`."""

    def decide(self, ctx: GateContext, value: Any) -> Verdict:
        raise NotImplementedError


G = TypeVar("G", bound=type[GateKind])


def register(kind: G) -> G:
    return GATES.register(kind)


@register
class TargetsGate(Gate):
    kind = "targets"
    always = True

    def decide(self, ctx: GateContext, value: Any) -> Verdict:
        health = ctx.checker.elb.target_health(ctx.record.candidate_arn)
        return targets_verdict(ctx.record.candidate, health)


@register
class MonitorsGate(Gate):
    kind = "monitors"

    @classmethod
    def read_gate(cls, s: Section, key: str) -> Any:
        return s.string_list(key)

    @classmethod
    def cross_check(cls, params: Mapping[str, Any], config: Config, where: str) -> list[str]:
        names = {m.name for m in config.monitors}
        return [f"{where}: no monitor named {m!r}" for m in params["value"] if m not in names]

    def decide(self, ctx: GateContext, value: Any) -> Verdict:
        return monitors_verdict(value, ctx.checker.monitor_states())


@register
class AlarmsGate(Gate):
    kind = "alarms"
    grants = (Grant("Gates", ("cloudwatch:DescribeAlarms",), "*"),)

    @classmethod
    def read_gate(cls, s: Section, key: str) -> Any:
        return s.string_list(key)

    def decide(self, ctx: GateContext, value: Any) -> Verdict:
        firing = ctx.checker.alarms_in_alarm(value)
        if firing:
            return Verdict("fail", f"alarm {firing[0]} is in ALARM", f"alarm:{firing[0]}")
        return PASS


@register
class CompareGate(Gate):
    kind = "compare"
    at_move_only = True
    grants = (Grant("Gates", ("cloudwatch:GetMetricData",), "*"),)

    @classmethod
    def read_gate(cls, s: Section, key: str) -> Any:
        if key not in s.data:  # absent: not among the keys allowed, as before
            return None
        compare = s.section(key)
        return compare.build(
            Compare,
            error_rate_margin=read_fraction(compare, "error_rate_margin", 0.01),
            latency_margin=read_fraction(compare, "latency_margin", 0.2),
            min_requests=compare.integer("min_requests", 100, minimum=1),
        )

    def decide(self, ctx: GateContext, value: Any) -> Verdict:
        if ctx.record.step >= 0 and ctx.now > ctx.record.moved_at:
            return ctx.checker.compare(ctx.deployment, ctx.record, ctx.now, value)
        return PASS


def read_fraction(s: Section, key: str, default: float) -> float:
    value = s.raw(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10:
        s.error(f"expected a fraction like 0.05 (0..10), got {value!r}", key)
        return default
    return float(value)


class GateChecker:
    """Reads what the gates need through small callables (adapters in production)."""

    def __init__(
        self,
        elb: Elbv2,
        monitor_states: Callable[[], Mapping[str, MonitorState]],
        alarms_in_alarm: Callable[[Sequence[str]], list[str]],
        traffic: Callable[..., Mapping[str, GroupTraffic]],
    ) -> None:
        self.elb = elb
        self.monitor_states = monitor_states
        self.alarms_in_alarm = alarms_in_alarm
        self.traffic = traffic

    def check(self, deployment: Deployment, record: Record, now: float, compare: bool) -> Verdict:
        """The first gate that does not pass, or PASS. `compare`: traffic is about to move."""
        ctx = GateContext(self, deployment, record, now, at_move=compare)
        for name, kind in GATES.items():
            value = True if kind.always else deployment.gates.params.get(name)
            if not value or (kind.at_move_only and not compare):
                continue
            verdict = kind().decide(ctx, value)  # type: ignore[attr-defined]
            if verdict.outcome != "pass":
                return verdict
        return PASS

    def compare(self, deployment: Deployment, record: Record, now: float, rules: Compare) -> Verdict:
        load_balancer = metric_dimension(self.elb.load_balancer_arn(deployment.listener.load_balancer))
        groups = [metric_dimension(record.candidate_arn), metric_dimension(record.stable_arn)]
        traffic = self.traffic(load_balancer, groups, utc(record.moved_at), utc(now))
        return compare_traffic(traffic[groups[0]], traffic[groups[1]], rules)
