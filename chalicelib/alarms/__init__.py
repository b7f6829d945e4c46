"""Alarm notifications in, runbook names out: parsing and routing, with no AWS calls.

>>> events, dropped = parse_sns_event(lambda_event, config.settings.metrics_namespace)  # doctest: +SKIP
>>> [route(e, config) for e in events]  # doctest: +SKIP
['restart-web']
"""

from chalicelib.alarms.message import cloudwatch_time, probe_alarm_message, probe_alarm_name
from chalicelib.alarms.model import KINDS, STATES, AlarmEvent, InvalidAlarm
from chalicelib.alarms.parse import parse_alarm, parse_sns_event, parse_sns_record
from chalicelib.alarms.routing import route

__all__ = [
    "KINDS",
    "STATES",
    "AlarmEvent",
    "InvalidAlarm",
    "cloudwatch_time",
    "parse_alarm",
    "parse_sns_event",
    "parse_sns_record",
    "probe_alarm_message",
    "probe_alarm_name",
    "route",
]
