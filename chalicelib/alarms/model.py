"""What `on_alarm` acts on: one validated alarm state change, whoever sent it.

CloudWatch metric, metric-math and composite alarms and the probe's own state changes all
arrive on the alarms topic in one JSON shape; `alarms.parse` turns each into an `AlarmEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")
KINDS = ("metric", "metric_math", "composite", "probe")
PROBE_ALARM_PREFIX = "autoheal-probe-"  # the probe's own alarm names: autoheal-probe-<monitor>
PROBE_METRIC = "Availability"  # 1 when a check passes, 0 when it fails
# Dimensions that name something narrower than a tier: a run acts only there (runbooks.scope).
SCOPE_DIMENSIONS = ("InstanceId", "AutoScalingGroupName", "TargetGroup")


@dataclass(frozen=True)
class AlarmEvent:
    """One alarm state change, validated and capped.

    >>> event = parse_sns_record(record, probe_namespace="Autoheal")  # doctest: +SKIP
    >>> event.kind, event.state, event.monitor  # doctest: +SKIP
    ('probe', 'ALARM', 'web')
    """

    name: str  # AlarmName
    state: str  # one of STATES
    old_state: Optional[str]
    reason: str  # NewStateReason, truncated
    changed_at: str  # StateChangeTime as given
    kind: str  # one of KINDS
    namespace: Optional[str]
    metric: Optional[str]
    monitor: Optional[str]  # value of the "Monitor" dimension when present
    region: Optional[str]  # as given: a display name like "US East (N. Virginia)"
    account: Optional[str]
    message_id: str  # the SNS MessageId: the idempotency key
    description: Optional[str] = None
    # SCOPE_DIMENSIONS found on the alarm's metric (on every metric of a metric-math alarm)
    dimensions: dict[str, str] = field(default_factory=dict)

    @property
    def is_alarm(self) -> bool:
        return self.state == "ALARM"


class InvalidAlarm(ValueError):
    """A message that is not an alarm we accept; `reason` names the offending field.

    The reason never quotes the offending value, so it is always safe to log.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
