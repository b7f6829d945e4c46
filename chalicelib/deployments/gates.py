"""Gates before every move and while a step bakes.

- targets: every registered target of the receiving group healthy (none registered fails).
- monitors: each of the deployment's monitors UP (DOWN fails; not yet known holds).
- alarms: none of the alarms matching its globs in ALARM.
- compare (optional, at move time): the candidate's 5xx rate and p95 latency over the step
  against the stable group's; too little traffic holds, never promotes.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from chalicelib.aws.cloudwatch import GroupTraffic, utc
from chalicelib.aws.elbv2 import Elbv2, metric_dimension
from chalicelib.config.model import Compare, Deployment
from chalicelib.deployments.machine import PASS, Verdict
from chalicelib.deployments.model import Record
from chalicelib.state.thresholds import MonitorState

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
        """The first gate that does not pass, or PASS. `compare` only at move time."""
        verdict = targets_verdict(record.candidate, self.elb.target_health(record.candidate_arn))
        if verdict.outcome != "pass":
            return verdict
        if deployment.gates.monitors:
            verdict = monitors_verdict(deployment.gates.monitors, self.monitor_states())
            if verdict.outcome != "pass":
                return verdict
        firing = self.alarms_in_alarm(deployment.gates.alarms) if deployment.gates.alarms else []
        if firing:
            return Verdict("fail", f"alarm {firing[0]} is in ALARM", f"alarm:{firing[0]}")
        if compare and deployment.gates.compare and record.step >= 0 and now > record.moved_at:
            return self.compare(deployment, record, now)
        return PASS

    def compare(self, deployment: Deployment, record: Record, now: float) -> Verdict:
        assert deployment.gates.compare is not None
        load_balancer = metric_dimension(self.elb.load_balancer_arn(deployment.listener.load_balancer))
        groups = [metric_dimension(record.candidate_arn), metric_dimension(record.stable_arn)]
        traffic = self.traffic(load_balancer, groups, utc(record.moved_at), utc(now))
        return compare_traffic(traffic[groups[0]], traffic[groups[1]], deployment.gates.compare)
