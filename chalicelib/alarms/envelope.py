"""The SNS event object Chalice builds for `on_alarm`, made tolerant of events of any shape.

Chalice's SNSEvent reads `Records[0].Sns.Message`, `Subject` and `MessageAttributes` before the
function runs, so an event of another shape would raise there and Lambda would retry it. This one
reads what is there and leaves the judging to `alarms.parse`, which logs and drops what is wrong.
"""

from __future__ import annotations

from typing import Any

from chalice.app import SNSEvent


class LenientSNSEvent(SNSEvent):
    """>>> on_alarm.event_class = LenientSNSEvent  # in app.py, after the decorator  # doctest: +SKIP"""

    def _extract_attributes(self, event_dict: Any) -> None:
        records = event_dict.get("Records") if isinstance(event_dict, dict) else None
        first = records[0] if isinstance(records, list) and records else None
        sns = first.get("Sns") if isinstance(first, dict) else None
        sns = sns if isinstance(sns, dict) else {}
        self.message = sns.get("Message")
        self.subject = sns.get("Subject")
        self.message_attributes = sns.get("MessageAttributes") or {}
