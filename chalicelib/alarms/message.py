"""The alarm-shaped message the probe publishes when a monitor changes state.

It carries the same keys as a CloudWatch alarm notification, so `on_alarm` has one path for
both (see the message contract in the design). `parse_sns_record` reads it back as kind "probe".

>>> body = probe_alarm_message("web", "ALARM", "OK", "timeout after 5s", "Autoheal", now)  # doctest: +SKIP
>>> sns.publish(TopicArn=alarm_topic, Subject=body["AlarmName"], Message=json.dumps(body))  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.alarms.model import PROBE_ALARM_PREFIX, PROBE_METRIC, STATES
from chalicelib.alarms.parse import MAX_NAME, MAX_REASON, MONITOR_DIMENSION


def probe_alarm_name(monitor: str) -> str:
    return PROBE_ALARM_PREFIX + monitor


def probe_alarm_message(
    monitor: str,
    new_state: str,
    old_state: str,
    reason: str,
    namespace: str,
    changed_at: datetime,
    *,
    region: str = "",
    account: str = "",
) -> dict[str, Any]:
    """Build the notification body for a probe state change (ALARM = down, OK = up).

    Raises ValueError for a state outside STATES or a monitor name too long for an AlarmName.
    """
    for label, state in (("new_state", new_state), ("old_state", old_state)):
        if state not in STATES:
            raise ValueError(f"{label}: expected one of {', '.join(STATES)}")
    name = probe_alarm_name(monitor)
    if not monitor or len(name) > MAX_NAME:
        raise ValueError("monitor: expected a name of 1 to 240 characters")
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 1] + "…"
    return {
        "AlarmName": name,
        "AlarmDescription": f"autoheal probe of monitor {monitor}",
        "AWSAccountId": account,
        "NewStateValue": new_state,
        "NewStateReason": reason,
        "StateChangeTime": cloudwatch_time(changed_at),
        "Region": region,
        "OldStateValue": old_state,
        "Trigger": {
            "MetricName": PROBE_METRIC,
            "Namespace": namespace,
            "StatisticType": "Statistic",
            "Statistic": "MINIMUM",
            "Unit": None,
            "Dimensions": [{"value": monitor, "name": MONITOR_DIMENSION}],
            "Period": 60,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "LessThanThreshold",
            "Threshold": 1.0,
            "TreatMissingData": "breaching",
        },
    }


def cloudwatch_time(moment: datetime) -> str:
    """CloudWatch's StateChangeTime format: 2024-05-01T21:03:04.123+0000 (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"
