"""Parse SNS-delivered alarm notifications into `AlarmEvent`s, strictly and without AWS calls.

The SNS envelope is Lambda's; the body is CloudWatch's alarm notification (or the probe's
imitation of one, see `alarms.message`). Powertools has no model for that body, so it is
checked by hand here: every field we read has its type checked, every string has a cap, and
anything else is an `InvalidAlarm` whose reason names the field (never its value).

>>> events, dropped = parse_sns_event(lambda_event, probe_namespace="Autoheal")  # doctest: +SKIP
>>> [(e.kind, e.state, e.monitor) for e in events]  # doctest: +SKIP
[('probe', 'ALARM', 'web')]
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping, Optional

from chalicelib.alarms.model import (
    PROBE_ALARM_PREFIX,
    PROBE_METRIC,
    SCOPE_DIMENSIONS,
    STATES,
    AlarmEvent,
    InvalidAlarm,
)

MAX_MESSAGE_CHARS = 262_144  # SNS's own message limit is 256 KiB
MAX_RECORDS = 100  # Lambda hands SNS records over one at a time; this is only a guard
MAX_NAME = 255  # CloudWatch's AlarmName limit
MAX_REASON = 1000
MAX_DESCRIPTION = 1024
MAX_RULE = 10_240  # CloudWatch's AlarmRule limit
MAX_SHORT = 256  # namespaces, metric names, dimension names, regions, times
MAX_DIMENSION_VALUE = 1024
MAX_DIMENSIONS = 30  # CloudWatch allows 30 dimensions per metric
MAX_METRICS = 50  # metric-math alarms reference a handful; more is not CloudWatch
MONITOR_DIMENSION = "Monitor"

_MESSAGE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_MAY_BE_EMPTY = frozenset({"NewStateReason"})  # required, but "" harms nothing
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def parse_sns_event(event: Any, probe_namespace: str) -> tuple[list[AlarmEvent], list[str]]:
    """Parse every record of a Lambda SNS event; never raises, whatever the input.

    Returns the parsed events and, for each dropped record, the reason it was dropped.
    """
    if not isinstance(event, Mapping):
        return [], ["event: expected an object"]
    records = event.get("Records")
    if not isinstance(records, list):
        return [], ["Records: expected a list"]
    parsed: list[AlarmEvent] = []
    dropped: list[str] = []
    if len(records) > MAX_RECORDS:
        dropped.append(f"Records: {len(records) - MAX_RECORDS} beyond the first {MAX_RECORDS}")
    for i, record in enumerate(records[:MAX_RECORDS]):
        try:
            parsed.append(parse_sns_record(record, probe_namespace))
        except InvalidAlarm as exc:
            dropped.append(f"Records[{i}]: {exc.reason}")
        except Exception as exc:  # noqa: BLE001 - a parser bug must not sink the other records
            dropped.append(f"Records[{i}]: unexpected {type(exc).__name__}")
    return parsed, dropped


def parse_sns_record(record: Any, probe_namespace: str) -> AlarmEvent:
    """Parse one Lambda SNS record carrying an alarm notification.

    >>> parse_sns_record({"EventSource": "aws:sns", "Sns": {...}}, "Autoheal")  # doctest: +SKIP
    AlarmEvent(name='web-blue-memory-high', state='ALARM', kind='metric', ...)

    Raises InvalidAlarm(reason) for anything that is not an alarm we accept.
    """
    if not isinstance(record, Mapping):
        raise InvalidAlarm("record: expected an object")
    if record.get("EventSource", "aws:sns") != "aws:sns":
        raise InvalidAlarm("EventSource: expected aws:sns")
    sns = record.get("Sns")
    if not isinstance(sns, Mapping):
        raise InvalidAlarm("Sns: expected an object")
    if sns.get("Type", "Notification") != "Notification":
        raise InvalidAlarm("Sns.Type: expected Notification")
    message_id = sns.get("MessageId")
    if not isinstance(message_id, str) or not _MESSAGE_ID.fullmatch(message_id):
        raise InvalidAlarm("Sns.MessageId: expected an id of letters, digits and -._:")
    return parse_alarm(_load_object(sns.get("Message")), message_id, probe_namespace)


def parse_alarm(body: Mapping[str, Any], message_id: str, probe_namespace: str) -> AlarmEvent:
    """Validate an alarm notification body (already decoded from JSON)."""
    name = _text(body, "AlarmName", MAX_NAME, required=True)
    if _CONTROL.search(name):
        raise InvalidAlarm("AlarmName: contains control characters")
    kind, namespace, metric, monitor, dimensions = _classify(body, probe_namespace)
    if kind == "probe" and name != PROBE_ALARM_PREFIX + str(monitor):
        # Another alarm on the probe's metrics (a latency alarm, say) is not the probe itself: it
        # must not open or close a monitor's incident. `alarms:` routes it like any alarm.
        kind = "metric"
    return AlarmEvent(
        name=name,
        state=_state(body, "NewStateValue", required=True),
        old_state=_state(body, "OldStateValue"),
        reason=_text(body, "NewStateReason", MAX_REASON, required=True, truncate=True),
        changed_at=_text(body, "StateChangeTime", MAX_SHORT, required=True),
        kind=kind,
        namespace=namespace,
        metric=metric,
        monitor=monitor,
        region=_text(body, "Region", MAX_SHORT, truncate=True) or None,
        account=_text(body, "AWSAccountId", MAX_SHORT, truncate=True) or None,
        message_id=message_id,
        description=_text(body, "AlarmDescription", MAX_DESCRIPTION, truncate=True) or None,
        dimensions=dimensions,
    )


def _load_object(message: Any) -> Mapping[str, Any]:
    if not isinstance(message, str):
        raise InvalidAlarm("Sns.Message: expected a string")
    if len(message) > MAX_MESSAGE_CHARS:
        raise InvalidAlarm("Sns.Message: larger than SNS allows")
    try:
        body = json.loads(message)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise InvalidAlarm("Sns.Message: not JSON") from None
    if not isinstance(body, dict):
        raise InvalidAlarm("Sns.Message: not a JSON object")
    return body


def _classify(
    body: Mapping[str, Any], probe_namespace: str
) -> tuple[str, Optional[str], Optional[str], Optional[str], dict[str, str]]:
    """Return (kind, namespace, metric, monitor, scope dimensions) from Trigger or AlarmRule."""
    trigger, rule = body.get("Trigger"), body.get("AlarmRule")
    if trigger is None:
        if rule is None:
            raise InvalidAlarm("Trigger: missing (and no AlarmRule)")
        _text(body, "AlarmRule", MAX_RULE, required=True)
        _list(body, "TriggeringChildren", MAX_METRICS)
        return "composite", None, None, None, {}
    if rule is not None:
        raise InvalidAlarm("AlarmRule: not expected beside Trigger")
    if not isinstance(trigger, Mapping):
        raise InvalidAlarm("Trigger: expected an object")
    _check_trigger_settings(trigger)
    if trigger.get("Metrics") is not None:
        return ("metric_math", *_metric_math(trigger))
    namespace = _text(trigger, "Namespace", MAX_SHORT, required=True, where="Trigger.")
    metric = _text(trigger, "MetricName", MAX_SHORT, required=True, where="Trigger.")
    _text(trigger, "Unit", MAX_SHORT, where="Trigger.")  # null for metrics without a unit
    dims = _dimensions(trigger.get("Dimensions"), "Trigger.Dimensions")
    monitor = dims.get(MONITOR_DIMENSION) or None
    kind = "probe" if namespace == probe_namespace and monitor and metric == PROBE_METRIC else "metric"
    return kind, namespace, metric, monitor, _scope(dims)


def _scope(dims: Mapping[str, str]) -> dict[str, str]:
    """Empty values are kept: an empty InstanceId names nothing, it is not an absent one."""
    return {k: dims[k] for k in SCOPE_DIMENSIONS if k in dims}


def _metric_math(
    trigger: Mapping[str, Any],
) -> tuple[Optional[str], Optional[str], Optional[str], dict[str, str]]:
    """Namespace, metric, monitor and scope of a metric-math alarm, each when all its metrics agree."""
    namespaces, metrics, monitors, scopes = [], [], [], []
    for i, entry in enumerate(_list(trigger, "Metrics", MAX_METRICS, where="Trigger.") or []):
        where = f"Trigger.Metrics[{i}]"
        if not isinstance(entry, Mapping):
            raise InvalidAlarm(f"{where}: expected an object")
        _text(entry, "Id", MAX_SHORT, required=True, where=f"{where}.")
        _text(entry, "Expression", MAX_RULE, where=f"{where}.")
        _text(entry, "Label", MAX_SHORT, truncate=True, where=f"{where}.")
        stat = entry.get("MetricStat")
        if stat is None:
            continue
        metric = stat.get("Metric") if isinstance(stat, Mapping) else None
        if not isinstance(metric, Mapping):
            raise InvalidAlarm(f"{where}.MetricStat.Metric: expected an object")
        where += ".MetricStat.Metric"
        namespaces.append(_text(metric, "Namespace", MAX_SHORT, required=True, where=f"{where}."))
        metrics.append(_text(metric, "MetricName", MAX_SHORT, required=True, where=f"{where}."))
        dims = _dimensions(metric.get("Dimensions"), f"{where}.Dimensions")
        monitors.append(dims.get(MONITOR_DIMENSION) or None)
        scopes.append(_scope(dims))
    shared = {k: v for k, v in scopes[0].items() if all(s.get(k) == v for s in scopes)} if scopes else {}
    return _only(namespaces), _only(metrics), _only(monitors), shared


def _check_trigger_settings(trigger: Mapping[str, Any]) -> None:
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        value = trigger.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidAlarm(f"Trigger.{key}: expected an integer")
    threshold = trigger.get("Threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        raise InvalidAlarm("Trigger.Threshold: expected a number")
    for key in ("Statistic", "StatisticType", "ComparisonOperator", "TreatMissingData"):
        _text(trigger, key, MAX_SHORT, where="Trigger.")


def _dimensions(value: Any, where: str) -> dict[str, str]:
    """CloudWatch sends [{"value": .., "name": ..}]; accept the capitalised spelling too."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise InvalidAlarm(f"{where}: expected a list")
    if len(value) > MAX_DIMENSIONS:
        raise InvalidAlarm(f"{where}: more than {MAX_DIMENSIONS} dimensions")
    out: dict[str, str] = {}
    for i, dim in enumerate(value):
        if not isinstance(dim, Mapping):
            raise InvalidAlarm(f"{where}[{i}]: expected an object")
        name = dim.get("name", dim.get("Name"))
        val = dim.get("value", dim.get("Value"))
        if not isinstance(name, str) or not 0 < len(name) <= MAX_SHORT:
            raise InvalidAlarm(f"{where}[{i}].name: expected a non-empty string")
        if not isinstance(val, str) or len(val) > MAX_DIMENSION_VALUE:
            raise InvalidAlarm(f"{where}[{i}].value: expected a string")
        out[name] = val
    return out


def _text(
    obj: Mapping[str, Any],
    key: str,
    limit: int,
    *,
    required: bool = False,
    truncate: bool = False,
    where: str = "",
) -> Any:
    """The string at `key` (None when absent and optional); too long: truncated or refused."""
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidAlarm(f"{where}{key}: missing")
        return None
    if not isinstance(value, str):
        raise InvalidAlarm(f"{where}{key}: expected a string, got {_type_name(value)}")
    if required and not value and key not in _MAY_BE_EMPTY:
        raise InvalidAlarm(f"{where}{key}: empty")
    if len(value) > limit:
        if not truncate:
            raise InvalidAlarm(f"{where}{key}: longer than {limit} characters")
        value = value[: limit - 1] + "…"
    return value


def _state(obj: Mapping[str, Any], key: str, *, required: bool = False) -> Optional[str]:
    value = obj.get(key)
    if value is None and not required:
        return None
    if value not in STATES:
        raise InvalidAlarm(f"{key}: expected one of {', '.join(STATES)}")
    return value


def _list(obj: Mapping[str, Any], key: str, limit: int, *, where: str = "") -> Optional[list]:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidAlarm(f"{where}{key}: expected a list")
    if len(value) > limit:
        raise InvalidAlarm(f"{where}{key}: more than {limit} entries")
    return value


def _only(values: Iterable[Optional[str]]) -> Optional[str]:
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


def _type_name(value: Any) -> str:
    return {dict: "object", list: "list", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )
