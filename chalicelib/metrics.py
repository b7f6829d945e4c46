"""CloudWatch metrics through Powertools EMF: a few log lines per cycle, no API calls.

Every custom metric costs $0.30 a month, so by default a cycle writes aggregates only:
`MonitorsUp` / `MonitorsDown` per `Component`, and, without dimensions, `CycleDuration`,
`MonitorsSkipped` and `ProbeHeartbeat` (an alarm on its missing data tells when the probe
itself stops). A monitor with `metrics: true` also gets `Availability` (1/0) and
`ResponseTime` (ms) with a `Monitor` dimension, for the CloudWatch alarms that need them.
The status history lives in DynamoDB and S3, not here. With vantage points, only the home
region writes the per-component aggregates: another region's view is a vote, and its own
health (cycle, skipped, heartbeat) is all its dashboard needs; the aggregates' $0.60 a
component-month is then paid once, not once per region.

>>> emit_probe_metrics("Autoheal", config.monitors, results, cycle_seconds=1.2)  # doctest: +SKIP
4
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib.config.model import Monitor
from chalicelib.probe.result import ProbeResult

MONITOR_DIMENSION = "Monitor"
COMPONENT_DIMENSION = "Component"
AVAILABILITY = "Availability"
RESPONSE_TIME = "ResponseTime"
UP = "MonitorsUp"
DOWN = "MonitorsDown"
SKIPPED = "MonitorsSkipped"
CYCLE_DURATION = "CycleDuration"
HEARTBEAT = "ProbeHeartbeat"
HANDLER_ERRORS = "HandlerErrors"  # per Function: resources/ alarms on it
FUNCTION_DIMENSION = "Function"


def emit_handler_error(namespace: str, function: str) -> None:
    """One EMF document counting a handler that raised (the event then goes to Lambda's retries)."""
    metrics = EphemeralMetrics(namespace=namespace)
    metrics.add_dimension(FUNCTION_DIMENSION, function)
    metrics.add_metric(HANDLER_ERRORS, MetricUnit.Count, 1)
    metrics.flush_metrics()


def emit_probe_metrics(
    namespace: str,
    monitors: Sequence[Monitor],
    results: Sequence[ProbeResult],
    cycle_seconds: float,
    components: bool = True,
) -> int:
    """Print the cycle's EMF documents; `results` are in `monitors`' order. Returns documents
    written. `components=False` leaves out the per-component aggregates (a vantage point other
    than the home region)."""
    metrics = EphemeralMetrics(namespace=namespace)
    up: Counter[str] = Counter()
    down: Counter[str] = Counter()
    written = 0
    for monitor, result in zip(monitors, results, strict=True):
        if result.skipped:
            continue  # no data is the honest signal for a monitor we did not reach
        (up if result.ok else down)[monitor.component or monitor.name] += 1
        if monitor.metrics:
            _per_monitor(metrics, result)
            written += 1
    for component in sorted(up.keys() | down.keys()) if components else ():
        metrics.add_dimension(COMPONENT_DIMENSION, component)
        metrics.add_metric(UP, MetricUnit.Count, up[component])
        metrics.add_metric(DOWN, MetricUnit.Count, down[component])
        metrics.flush_metrics()
        written += 1
    metrics.add_metric(CYCLE_DURATION, MetricUnit.Milliseconds, round(cycle_seconds * 1000, 1))
    metrics.add_metric(SKIPPED, MetricUnit.Count, sum(1 for r in results if r.skipped))
    metrics.add_metric(HEARTBEAT, MetricUnit.Count, 1)
    metrics.flush_metrics()
    return written + 1


def _per_monitor(metrics: EphemeralMetrics, result: ProbeResult) -> None:
    metrics.add_dimension(MONITOR_DIMENSION, result.monitor)
    metrics.add_metric(AVAILABILITY, MetricUnit.Count, 1 if result.ok else 0)
    if result.latency_ms is not None:
        metrics.add_metric(RESPONSE_TIME, MetricUnit.Milliseconds, round(result.latency_ms, 1))
    metrics.flush_metrics()


def metric_count(monitors: Sequence[Monitor]) -> int:
    """Custom metrics the probe keeps in CloudWatch for this config (what the bill counts)."""
    components = {m.component or m.name for m in monitors}
    return 2 * len(components) + 3 + 2 * sum(1 for m in monitors if m.metrics)
