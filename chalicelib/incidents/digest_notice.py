"""The daily digest: what happened to the service in a day, for people who were not woken.

Incidents a channel's `if_not_healed_within` kept from it, and messages its `max_per_hour`
folded, are told here: each incident of the period with when it opened, how long it lasted, what
autoheal did and how it ended. Pure: the handler (`incidents.digest`) reads the incidents.

>>> digest_notice([], since=0.0, until=86400.0, folded={}) is None  # nothing happened: no digest
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Mapping, Optional, Sequence

from chalicelib.notify.format import duration
from chalicelib.notify.notice import Notice
from chalicelib.runbooks.incident import ESCALATED, HEALED, OPEN, STOPPED, Incident

SCHEDULED_PREFIX = "schedule:"
MAX_LISTED = 40  # incidents listed one per line; the rest are counted


@dataclass(frozen=True)
class Ending:
    label: str  # how it ended, in words
    healed: bool = False  # by autoheal, without a person
    escalated: bool = False  # a person was needed (or is)


def ending(incident: Incident) -> Ending:
    run = incident.run
    if incident.status == OPEN:
        return Ending("still open", escalated=incident.escalated_at is not None)
    if any("resolved by hand" in line for line in incident.story):
        return Ending("resolved by hand", escalated=True)
    if run is not None and run.state == STOPPED and any("budget" in line for line in incident.story):
        return Ending("budget exhausted: a person was needed", escalated=True)
    if incident.escalated_at is not None or (run is not None and run.state == ESCALATED):
        return Ending("escalated to people", escalated=True)
    if run is not None and run.state == HEALED:
        return Ending("healed by autoheal", healed=True)
    return Ending("recovered on its own")


def in_period(incident: Incident, since: float, until: float) -> bool:
    opened = since <= incident.opened_at < until
    resolved = incident.resolved_at is not None and since <= incident.resolved_at < until
    return opened or resolved or (incident.status == OPEN and incident.opened_at < until)


def commands_sent(incident: Incident) -> int:
    return len(incident.run.commands) if incident.run is not None else 0


def incident_line(incident: Incident, until: float) -> str:
    opened = datetime.fromtimestamp(incident.opened_at, UTC).strftime("%d %b %H:%M")
    end = incident.resolved_at if incident.resolved_at is not None else until
    lasted = duration(max(1.0, end - incident.opened_at))
    result = ending(incident)
    commands = commands_sent(incident)
    did = f"{commands} command{'s' * (commands != 1)}" if commands else "no action"
    runbook = f"{incident.run.runbook}, " if incident.run is not None else ""
    lasting = "open for" if incident.status == OPEN else "lasted"
    return f"{opened} UTC {incident.label}: {lasting} {lasted}; {runbook}{did}; {result.label}"


def scheduled_line(incident: Incident) -> str:
    ran = datetime.fromtimestamp(incident.opened_at, UTC).strftime("%d %b %H:%M")
    name = incident.key.removeprefix(SCHEDULED_PREFIX)
    result = ending(incident)
    how = "ok" if not result.escalated and incident.status != OPEN else result.label
    return f"{ran} UTC scheduled {name}: {commands_sent(incident)} commands; {how}"


def digest_notice(
    incidents: Sequence[Incident], since: float, until: float, folded: Mapping[str, int]
) -> Optional[Notice]:
    """The digest of [since, until), or None when nothing happened and nothing was folded."""
    chosen = sorted((i for i in incidents if in_period(i, since, until)), key=lambda i: i.opened_at)
    scheduled = [i for i in chosen if i.key.startswith(SCHEDULED_PREFIX)]
    outages = [i for i in chosen if not i.key.startswith(SCHEDULED_PREFIX)]
    held = {channel: count for channel, count in folded.items() if count > 0}
    if not chosen and not held:
        return None
    outcomes = [ending(i) for i in outages]
    healed = sum(o.healed for o in outcomes)
    escalated = sum(o.escalated for o in outcomes)
    still_open = sum(i.status == OPEN for i in outages)
    title = (
        f"autoheal daily: {len(outages)} incident{'s' * (len(outages) != 1)}, "
        f"{healed} healed by autoheal, {escalated} needed a person"
        + (f", {still_open} still open" if still_open else "")
    )
    lines = [incident_line(i, until) for i in outages[:MAX_LISTED]]
    if len(outages) > MAX_LISTED:
        lines.append(f"... and {len(outages) - MAX_LISTED} more")
    lines += [scheduled_line(i) for i in scheduled]
    lines += [f"{channel}: {count} messages held back by its hourly limit" for channel, count in held.items()]
    return Notice("digest", "daily digest", title, lines=tuple(lines), at=datetime.fromtimestamp(until, UTC))
