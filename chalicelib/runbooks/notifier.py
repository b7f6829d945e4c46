"""The one place that tells people about an incident: opened, action, recovered, escalated.

A channel that fails keeps the notice in the incident (`unsent`), and `follow_up` retries it
until it is taken; `last_notified_at` moves only when a notice went out, so reminders are not
skipped for a message nobody received.

>>> notifier = IncidentNotifier(FanOut([...]).send)  # doctest: +SKIP
>>> notifier.send(incident, "opened", "web ALARM: timeout")  # doctest: +SKIP
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Callable, Optional, Sequence

from aws_lambda_powertools import Logger

from chalicelib.notify.notice import Notice
from chalicelib.runbooks.incident import Incident

logger = Logger(service="autoheal", child=True)

ALL_CHANNELS = "*"
# What a scheduled run tells people: only that it failed; the rest goes to its story alone.
SCHEDULED_LOUD = ("escalated", "budget_exhausted")
MAX_UNSENT = 20  # the oldest unsent notices go first past this: the newest tell the most


class IncidentNotifier:
    def __init__(self, sender: Callable[..., Any], now: Callable[[], float] = time.time) -> None:
        """`sender(notice)` or `sender(notice, channels)` returns the channels that failed (a list),
        or anything else for success; it may raise (every channel failed)."""
        self.sender = sender
        self.now = now

    def send(
        self,
        incident: Incident,
        kind: str,
        title: str,
        command_id: Optional[str] = None,
        downtime_s: Optional[float] = None,
        tell: bool = True,
    ) -> None:
        now = self.now()
        if tell:
            incident.tell(now, title)
        if incident.run is not None and incident.run.scheduled and kind not in SCHEDULED_LOUD:
            return
        notice = Notice(
            kind=kind,
            incident=incident.key,
            title=title,
            lines=tuple(incident.story),
            command_id=command_id,
            downtime_s=downtime_s,
            at=datetime.fromtimestamp(now, UTC),
        )
        logger.info(f"notify {kind}: {title}", extra={"incident": incident.key, "notice": kind})
        failed = self.deliver(notice, None)
        if failed:
            incident.unsent = [*incident.unsent, {"notice": notice.to_dict(), "channels": failed}][
                -MAX_UNSENT:
            ]
        else:
            incident.last_notified_at = now

    def retry_unsent(self, incident: Incident) -> int:
        """Send what failed before, to the channels that failed; returns how many are still unsent."""
        still = []
        for entry in incident.unsent:
            channels = None if ALL_CHANNELS in entry["channels"] else entry["channels"]
            failed = self.deliver(Notice.from_dict(entry["notice"]), channels)
            if failed:
                still.append({"notice": entry["notice"], "channels": failed})
            else:
                incident.last_notified_at = self.now()
        incident.unsent = still
        return len(still)

    def deliver(self, notice: Notice, channels: Optional[Sequence[str]]) -> list[str]:
        try:
            result = self.sender(notice) if channels is None else self.sender(notice, list(channels))
        except Exception as exc:  # noqa: BLE001 - kept for a retry; never lost
            logger.warning(
                "notification failed", extra={"incident": notice.incident, "error": type(exc).__name__}
            )
            result = [ALL_CHANNELS] if channels is None else list(channels)
        failed = [str(c) for c in result] if isinstance(result, list) else []
        if failed:
            count_failure(notice.kind)
        return failed


def count_failure(kind: str) -> None:
    """An EMF metric, so an alarm can watch notifications that do not go out."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(
        name="NotificationFailures", unit=MetricUnit.Count, value=1, namespace="Autoheal"
    ) as m:
        m.add_dimension(name="Notice", value=kind)
