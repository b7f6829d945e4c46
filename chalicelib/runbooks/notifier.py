"""The one place that tells people about an incident: opened, action, recovered, escalated.

group_wait: an incident's opening notice is held for `group_wait` seconds (`hold_until`), and so
is every notice after it but escalations and budget exhaustion, so that the signals of one
outage reach the incident before anyone is told; the runbook starts at once all the same.
Lambda runs per invocation, so nothing waits in memory: the held notices are kept in the
incident (`outbox`) and sent, folded into one opening that lists everything so far, by whoever
writes the incident after the hold ends: the invocation running the runbook (at a checkpoint or
at the end of its run), the next signal's invocation, or `follow_up` (every minute). An
urgent notice sends what is held first; a recovery before the hold ends replaces it (one
"recovered" message with the whole story, and nobody was told it opened).

A channel that fails keeps the notice in the incident (`unsent`), and `follow_up` retries it
until it is taken; `last_notified_at` moves only when a notice went out, so reminders are not
skipped for a message nobody received.

>>> notifier = IncidentNotifier(FanOut([...]).send)  # doctest: +SKIP
>>> notifier.send(incident, "opened", "web ALARM: timeout")  # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Callable, Optional, Sequence

from aws_lambda_powertools import Logger

from chalicelib.alarms.model import PROBE_ALARM_PREFIX
from chalicelib.notify.notice import Notice
from chalicelib.runbooks.incident import Incident

logger = Logger(service="autoheal", child=True)

ALL_CHANNELS = "*"
# Always sent at once (never held by group_wait), and all a scheduled run tells people.
URGENT = ("escalated", "budget_exhausted")
MAX_UNSENT = 20  # the oldest unsent notices go first past this: the newest tell the most


class IncidentNotifier:
    def __init__(
        self, sender: Callable[..., Any], now: Callable[[], float] = time.time, group_wait: float = 0.0
    ) -> None:
        """`sender(notice)` or `sender(notice, channels)` returns the channels that failed (a list),
        or anything else for success; it may raise (every channel failed)."""
        self.sender = sender
        self.now = now
        self.group_wait = group_wait
        # Folds signals waiting beside the incident into it before a notice is shaped, so the
        # story people get names them (set by the incident handlers).
        self.gather: Callable[[Incident], Any] = lambda incident: None

    def open(self, incident: Incident, title: str) -> None:
        """The opening notice, held for group_wait."""
        incident.hold_until = self.now() + self.group_wait
        self.send(incident, "opened", title)

    def flush(self, incident: Incident, force: bool = False) -> bool:
        """Send what is held once the hold is over (or now, with `force`); True when sent."""
        if not incident.outbox or (not force and self.now() < incident.hold_until):
            return False
        held = [Notice.from_dict(entry) for entry in incident.outbox]
        incident.outbox, incident.hold_until = [], 0.0
        opening = next((n for n in held if n.kind == "opened"), None)
        if opening is not None:
            # One message for the outage so far: its first line, the signals, what was done.
            names = [signal.removeprefix(PROBE_ALARM_PREFIX) for signal in incident.signals]
            signals = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
            title = f"{incident.label} is failing ({signals})" if len(incident.signals) > 1 else opening.title
            commands = [n.command_id for n in held if n.command_id]
            command = commands[-1] if commands else None
            folded = replace(opening, title=title, lines=tuple(incident.story), command_id=command)
            self.deliver_notice(incident, folded)
        for notice in held:  # actions are in the opening's story; anything else goes as it was
            if notice is not opening and (opening is None or notice.kind != "action"):
                self.deliver_notice(incident, notice)
        return True

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
        self.gather(incident)
        if tell:
            incident.tell(now, title)
        if incident.run is not None and incident.run.scheduled and kind not in URGENT:
            return
        notice = Notice(
            kind=kind,
            incident=incident.label,
            title=title,
            lines=tuple(incident.story),
            command_id=command_id,
            downtime_s=downtime_s,
            at=datetime.fromtimestamp(now, UTC),
        )
        logger.info(f"notify {kind}: {title}", extra={"incident": incident.key, "notice": kind})
        if kind not in URGENT and now < incident.hold_until:
            if kind == "recovered":
                incident.outbox, incident.hold_until = [], 0.0  # healed before anyone was told
            else:
                incident.outbox = [*incident.outbox, notice.to_dict()][-MAX_UNSENT:]
                return
        self.flush(incident, force=True)
        self.deliver_notice(incident, notice)

    def deliver_notice(self, incident: Incident, notice: Notice) -> None:
        now = self.now()
        if notice.kind == "opened":
            incident.told_opened = True  # a failed channel keeps it in `unsent`: retried until taken
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
