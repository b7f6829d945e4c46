"""The one place that tells people about an incident: opened, action, recovered, escalated.

Each channel (`settings.notify`: email, sms, chat) hears of an incident when its hold ends:
`group_wait` for all (so the signals of one outage reach the incident before anyone is told),
or the channel's `if_not_healed_within` if longer. Until then its notices wait in the incident
(`outbox`, `holds`), and it gets them folded into one opening that lists everything so far.
Lambda runs per invocation, so nothing waits in memory: whoever writes the incident after a hold
ends sends it: the invocation running the runbook (at a checkpoint or at the end of its run),
the next signal's invocation, or `follow_up` (every minute).

- Escalations and an exhausted budget go to every channel at once (what it held first).
- A recovery before a channel's hold ends: after group_wait alone, it gets one "recovered"
  message with the whole story; after its own delay, nothing (`quiet`): autoheal healed it, and
  the daily digest says so.
- A channel that heard the incident opened (`told`) hears every notice after, its end included.

A channel that fails keeps the notice in the incident (`unsent`), and `follow_up` retries it
until it is taken; `last_notified_at` moves only when a notice went out, so reminders are not
skipped for a message nobody received.

>>> notifier = IncidentNotifier(FanOut({...}).send, policies=config.settings.notify)  # doctest: +SKIP
>>> notifier.open(incident, "web ALARM: timeout")  # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Callable, Mapping, Optional, Sequence

from aws_lambda_powertools import Logger

from chalicelib.alarms.model import PROBE_ALARM_PREFIX
from chalicelib.config.model import ChannelPolicy
from chalicelib.notify.notice import URGENT, Notice
from chalicelib.runbooks.incident import Incident

logger = Logger(service="autoheal", child=True)

ALL_CHANNELS = "*"
MAX_UNSENT = 20  # the oldest unsent notices go first past this: the newest tell the most
__all__ = ["ALL_CHANNELS", "URGENT", "IncidentNotifier"]


class IncidentNotifier:
    def __init__(
        self,
        sender: Callable[..., Any],
        now: Callable[[], float] = time.time,
        group_wait: float = 0.0,
        policies: Optional[Mapping[str, ChannelPolicy]] = None,
        gather: Optional[Callable[[Incident], Any]] = None,
    ) -> None:
        """`sender(notice)` (every channel) or `sender(notice, channels)` returns the channels
        that failed (a list), or anything else for success; it may raise (every channel failed).
        Without `policies`, one channel stands for them all."""
        self.sender = sender
        self.now = now
        self.group_wait = group_wait
        self.policies: Mapping[str, ChannelPolicy] = policies or {ALL_CHANNELS: ChannelPolicy()}
        self.channels = list(self.policies)
        self.delivered = 0  # notices handed to the sender: a write lost after one is not retried blind
        # Folds signals waiting beside the incident into it before a notice is shaped, so the
        # story people get names them (the inbox's fold, given by the composition root).
        self.gather: Callable[[Incident], Any] = gather or (lambda incident: None)

    def wait(self, channel: str) -> float:
        return max(self.group_wait, self.policies[channel].delay)

    @property
    def holds_opening(self) -> bool:
        """No channel hears of a new incident at once (so opening it sends nothing)."""
        return min(self.wait(channel) for channel in self.channels) > 0

    def open(self, incident: Incident, title: str) -> None:
        """The opening notice, held per channel for its wait."""
        now = self.now()
        incident.holds = {c: now + self.wait(c) for c in self.channels if self.wait(c) > 0}
        incident.told, incident.quiet = [], []
        self.send(incident, "opened", title)

    def due(self, incident: Incident) -> bool:
        """Some channel's hold is over: a write of the incident will send to it."""
        now = self.now()
        return any(until <= now for until in incident.holds.values())

    def flush(self, incident: Incident, force: bool = False) -> bool:
        """Send what is held to the channels whose hold is over (all, with `force`)."""
        now = self.now()
        ready = [c for c, until in incident.holds.items() if force or until <= now]
        if not ready:
            return False
        self.release(incident, ready)
        return True

    def release(self, incident: Incident, channels: list[str]) -> None:
        """The held notices to `channels`, the opening folded with the story so far."""
        held = [Notice.from_dict(entry) for entry in incident.outbox]
        incident.holds = {c: until for c, until in incident.holds.items() if c not in channels}
        told(incident, channels)
        if not incident.holds:
            incident.outbox = []
        opening = next((n for n in held if n.kind == "opened"), None)
        if opening is not None:
            self.deliver_notice(incident, self.folded(incident, opening, held), channels)
        for notice in held:  # actions are in the opening's story; anything else goes as it was
            if notice is not opening and (opening is None or notice.kind != "action"):
                self.deliver_notice(incident, notice, channels)

    def folded(self, incident: Incident, opening: Notice, held: list[Notice]) -> Notice:
        """One message for the outage so far: its first line, the signals, what was done."""
        names = [signal.removeprefix(PROBE_ALARM_PREFIX) for signal in incident.signals]
        signals = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
        title = f"{incident.label} is failing ({signals})" if len(incident.signals) > 1 else opening.title
        commands = [n.command_id for n in held if n.command_id]
        command = commands[-1] if commands else None
        return replace(opening, title=title, lines=tuple(incident.story), command_id=command)

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
        self.flush(incident)
        holding = list(incident.holds)
        if kind in URGENT:
            self.release(incident, holding)
        elif kind == "recovered":
            self.settle_holds(incident, holding)
        elif holding:
            incident.outbox = [*incident.outbox, notice.to_dict()][-MAX_UNSENT:]
        quiet = () if kind in URGENT else incident.quiet  # they hear only that autoheal gave up
        hearing = [c for c in self.channels if c not in incident.holds and c not in quiet]
        if kind in ("opened", *URGENT):
            told(incident, hearing)
        if hearing:
            self.deliver_notice(incident, notice, hearing)

    def settle_holds(self, incident: Incident, holding: list[str]) -> None:
        """Recovered before these channels heard of it: after group_wait alone, they hear it now
        (the whole story in one message); after their own delay, never (the digest has it)."""
        incident.holds = {}
        incident.outbox = []
        for channel in holding:
            if self.policies[channel].delay > 0:
                incident.quiet = [*incident.quiet, channel]

    def deliver_notice(self, incident: Incident, notice: Notice, channels: Sequence[str]) -> None:
        everyone = len(channels) == len(self.channels)
        failed = self.deliver(notice, None if everyone else channels)
        if failed:
            incident.unsent = [*incident.unsent, {"notice": notice.to_dict(), "channels": failed}][
                -MAX_UNSENT:
            ]
        else:
            incident.last_notified_at = self.now()

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
        self.delivered += 1
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


def told(incident: Incident, channels: Sequence[str]) -> None:
    """These channels heard the incident open (or that autoheal gave up): they hear it end."""
    incident.told = [*incident.told, *[c for c in channels if c not in incident.told]]
