"""CloudWatch metrics through Powertools EMF: one log line per monitor per cycle, no API calls.

Dimensions are only `Monitor` (no `service`), so alarms on them stay simple:
`Availability` (1/0) and `ResponseTime` (ms) per monitor, and `ProbeHeartbeat` per cycle so an
alarm on missing data can tell when the probe itself stops running.
"""

from __future__ import annotations

from typing import Iterable

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib.probe.result import ProbeResult

MONITOR_DIMENSION = "Monitor"
AVAILABILITY = "Availability"
HEARTBEAT = "ProbeHeartbeat"


def emit_probe_metrics(namespace: str, results: Iterable[ProbeResult]) -> int:
    """Print one EMF document per probed monitor and a heartbeat; returns documents written."""
    metrics = EphemeralMetrics(namespace=namespace)
    written = 0
    for result in results:
        if result.skipped:
            continue  # no data is the honest signal for a monitor we did not reach
        metrics.add_dimension(MONITOR_DIMENSION, result.monitor)
        metrics.add_metric(AVAILABILITY, MetricUnit.Count, 1 if result.ok else 0)
        if result.latency_ms is not None:
            metrics.add_metric("ResponseTime", MetricUnit.Milliseconds, round(result.latency_ms, 1))
        metrics.flush_metrics()
        written += 1
    metrics.add_metric(HEARTBEAT, MetricUnit.Count, 1)
    metrics.flush_metrics()
    return written + 1
