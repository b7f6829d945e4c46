"""Per-target-group ALB metrics, gathered per request and sent to CloudWatch in batches.

Names, units and dimensions are the ALB's own (namespace ``AWS/ApplicationELB``), so gates and
alarms written for AWS read them unchanged: ``RequestCount`` and ``HTTPCode_Target_5XX_Count``
(Count) and ``TargetResponseTime`` (Seconds, every response's own value, so percentiles work),
each with dimensions ``TargetGroup`` + ``LoadBalancer``, and the counts once more per
``LoadBalancer`` alone.

>>> batch = MetricBatch()
>>> batch.record("app/web-alb/1", "targetgroup/web-blue/2", status=200, seconds=0.012)
>>> [d["MetricName"] for d in batch.drain()][:2]
['RequestCount', 'HTTPCode_Target_5XX_Count']
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

NAMESPACE = "AWS/ApplicationELB"
MAX_VALUES = 150  # CloudWatch's limit on Values per datum
MAX_DATA = 1000  # CloudWatch's limit on MetricData per call


@dataclass
class _Group:
    requests: int = 0
    target_5xx: int = 0
    seconds: list[float] = field(default_factory=list)


class MetricBatch:
    """Thread-safe accumulator; :meth:`drain` returns the MetricData and starts a new batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[tuple[str, str], _Group] = defaultdict(_Group)

    def record(
        self, load_balancer: str, target_group: str, status: int | None, seconds: float | None
    ) -> None:
        """One request forwarded; ``status``/``seconds`` are None when the target never answered."""
        with self._lock:
            group = self._groups[(load_balancer, target_group)]
            group.requests += 1
            if status is not None and status >= 500:
                group.target_5xx += 1
            if seconds is not None:
                group.seconds.append(round(seconds, 6))

    def drain(self) -> list[dict[str, Any]]:
        with self._lock:
            groups, self._groups = self._groups, defaultdict(_Group)
        now = datetime.now(UTC)
        data: list[dict[str, Any]] = []
        per_balancer: dict[str, _Group] = defaultdict(_Group)
        for (balancer, target_group), group in groups.items():
            dimensions = [
                {"Name": "TargetGroup", "Value": target_group},
                {"Name": "LoadBalancer", "Value": balancer},
            ]
            data += _counts(group, dimensions, now)
            data += _times(group.seconds, dimensions, now)
            per_balancer[balancer].requests += group.requests
            per_balancer[balancer].target_5xx += group.target_5xx
        for balancer, group in per_balancer.items():
            data += _counts(group, [{"Name": "LoadBalancer", "Value": balancer}], now)
        return data


def _counts(group: _Group, dimensions: list[dict[str, str]], now: datetime) -> list[dict[str, Any]]:
    # The 5xx count goes out with every batch that had requests (0 included): a gate that
    # computes a rate needs the zero, not a missing datapoint.
    return [
        {
            "MetricName": name,
            "Dimensions": dimensions,
            "Timestamp": now,
            "Value": float(value),
            "Unit": "Count",
        }
        for name, value in (("RequestCount", group.requests), ("HTTPCode_Target_5XX_Count", group.target_5xx))
    ]


def _times(seconds: list[float], dimensions: list[dict[str, str]], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "MetricName": "TargetResponseTime",
            "Dimensions": dimensions,
            "Timestamp": now,
            "Values": seconds[i : i + MAX_VALUES],
            "Unit": "Seconds",
        }
        for i in range(0, len(seconds), MAX_VALUES)
    ]


class MetricPublisher:
    """Sends a batch every ``interval`` seconds (and once more on :meth:`stop`)."""

    def __init__(self, cloudwatch: Any, batch: MetricBatch, interval: float = 5.0) -> None:
        self.cloudwatch = cloudwatch
        self.batch = batch
        self.interval = interval
        self.published = 0  # data points sent, for tests and the demo
        self.errors = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alb-metrics", daemon=True)

    def start(self) -> MetricPublisher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
        self.flush()

    def flush(self) -> None:
        data = self.batch.drain()
        for i in range(0, len(data), MAX_DATA):
            try:
                self.cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[i : i + MAX_DATA])
                self.published += len(data[i : i + MAX_DATA])
            except Exception:  # noqa: BLE001 - the local AWS may be gone at shutdown; metrics are best effort
                self.errors += 1

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.flush()
