"""CloudWatch reads for deployment gates: alarms in ALARM by glob, ALB per-target-group metrics."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Optional, Sequence

from chalicelib.aws.clients import client

ALB_NAMESPACE = "AWS/ApplicationELB"


def alarms_in_alarm(globs: Sequence[str], cloudwatch: Any = None) -> list[str]:
    """Names of metric and composite alarms in ALARM that match any glob (`web-5xx-*`)."""
    if not globs:
        return []
    cloudwatch = cloudwatch or client("cloudwatch")
    names: set[str] = set()
    for prefix in {glob_prefix(g) for g in globs}:
        kwargs: dict[str, Any] = {"StateValue": "ALARM", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
        if prefix:
            kwargs["AlarmNamePrefix"] = prefix
        for page in cloudwatch.get_paginator("describe_alarms").paginate(**kwargs):
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                names.add(alarm["AlarmName"])
    return sorted(n for n in names if any(fnmatch.fnmatchcase(n, g) for g in globs))


def glob_prefix(glob: str) -> str:
    """The literal start of a glob: DescribeAlarms filters by it server-side."""
    cut = min((i for i, ch in enumerate(glob) if ch in "*?["), default=len(glob))
    return glob[:cut]


@dataclass(frozen=True)
class GroupTraffic:
    """One target group's traffic over a window, as the ALB reports it."""

    requests: float
    errors_5xx: float
    p95_seconds: Optional[float]  # None when CloudWatch has no percentile for the window

    @property
    def error_rate(self) -> float:
        return self.errors_5xx / self.requests if self.requests else 0.0


def group_traffic(
    load_balancer: str, target_groups: Sequence[str], start: datetime, end: datetime, cloudwatch: Any = None
) -> dict[str, GroupTraffic]:
    """Requests, target 5xx and p95 response time per target group (dimensions as the ALB writes
    them: `app/<name>/<id>`, `targetgroup/<name>/<id>`), in one GetMetricData call."""
    cloudwatch = cloudwatch or client("cloudwatch")
    period = max(60, math.ceil((end - start).total_seconds() / 60) * 60)
    queries = []
    for i, group in enumerate(target_groups):
        dims = [{"Name": "LoadBalancer", "Value": load_balancer}, {"Name": "TargetGroup", "Value": group}]
        for key, metric, stat in (
            ("requests", "RequestCount", "Sum"),
            ("errors", "HTTPCode_Target_5XX_Count", "Sum"),
            ("p95", "TargetResponseTime", "p95"),
        ):
            queries.append(
                {
                    "Id": f"{key}{i}",
                    "MetricStat": {
                        "Metric": {"Namespace": ALB_NAMESPACE, "MetricName": metric, "Dimensions": dims},
                        "Period": period,
                        "Stat": stat,
                    },
                }
            )
    values: dict[str, list[float]] = {}
    kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
    for page in cloudwatch.get_paginator("get_metric_data").paginate(**kwargs):
        for result in page["MetricDataResults"]:
            values.setdefault(result["Id"], []).extend(float(v) for v in result.get("Values", []))
    return {
        group: GroupTraffic(
            requests=sum(values.get(f"requests{i}", [])),
            errors_5xx=sum(values.get(f"errors{i}", [])),
            # One period covers the window, so there is at most one value; several: the worst.
            p95_seconds=max(values[f"p95{i}"]) if values.get(f"p95{i}") else None,
        )
        for i, group in enumerate(target_groups)
    }


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
