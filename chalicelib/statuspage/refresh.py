"""Incidents on the site within seconds: every public change of an incident republishes it.

`SiteRefresher.watch(store)` wraps the incident store the handlers write through: a save that
changes what the site shows of an incident (opened, resolved, a new public step of its story)
calls `incident_changed()`, which republishes status.json, index.html, history.html, feed.xml
and maintenance.html. Publishes are coalesced to at most one per second per site
(`PublishGate`). An incident opening or resolving that finds the second taken waits for the next
one (under a second), unless a publish began after the change; a step in between never waits
(it would hold up the run that acts): it is left to the next publish, which the probe makes
within a minute if no other change comes first. A failed publish is logged, never raised: the
incident's own handling goes on, and the probe's publishes catch up.

>>> refresher = SiteRefresher(publish, PublishGate(table))  # doctest: +SKIP
>>> incidents = refresher.watch(IncidentStore(table))      # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from aws_lambda_powertools import Logger

from chalicelib.config.model import Config
from chalicelib.runbooks.incident import OPEN
from chalicelib.statuspage.extras import timeline
from chalicelib.statuspage.publish_gate import PublishGate

logger = Logger(service="autoheal", child=True)
MAX_WAITS = 5  # a change waits for a free second at most this many times (then the probe's publish)


class SiteRefresher:
    def __init__(
        self,
        publish: Callable[[float], Any],
        gate: PublishGate,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        announce: Optional[Callable[[Any, str], Any]] = None,
    ) -> None:
        self.publish = publish
        self.gate = gate
        self.announce = announce  # (incident, "opened" | "resolved"): tells the subscribers
        self.clock = clock
        self.sleep = sleep

    def watch(self, store: Any) -> WatchedIncidents:
        return WatchedIncidents(store, self)

    def incident_changed(self, urgent: bool = True) -> bool:
        """Republish the site so it shows the change just written; True if this call published.
        Not `urgent`: when the second is taken, leave the change to the next publish."""
        changed_at = self.clock()
        try:
            for _ in range(MAX_WAITS):
                now = self.clock()
                claimed = self.gate.claim(now)
                if claimed is True:
                    self.publish(now)
                    return True
                if claimed >= changed_at:
                    return False  # a publish that began after the change shows it
                if not urgent:
                    self.gate.defer(changed_at)
                    return False
                self.sleep(max(0.0, claimed + self.gate.every - now))
        except Exception as exc:  # noqa: BLE001 - the site must never fail an incident's handling
            logger.warning("status site not republished", extra={"error": type(exc).__name__})
        return False


class WatchedIncidents:
    """The incident store, telling the refresher when a save changed what the site shows."""

    def __init__(self, store: Any, refresher: SiteRefresher) -> None:
        self.store = store
        self.refresher = refresher
        self.shown: dict[str, tuple] = {}  # key -> the public view last read or written

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def get(self, key: str) -> Any:
        found = self.store.get(key)
        if found is not None:
            self.shown[key] = public(found)
        return found

    def needing_follow_up(self) -> list:
        found = self.store.needing_follow_up()
        self.shown.update({i.key: public(i) for i in found})
        return found

    def save(self, incident: Any) -> None:
        self.store.save(incident)
        before, now_shown = self.shown.get(incident.key), public(incident)
        if before != now_shown:
            self.shown[incident.key] = now_shown
            kind = turn(before, now_shown)
            self.refresher.incident_changed(urgent=kind is not None)
            scheduled = incident.run is not None and incident.run.scheduled
            if kind and self.refresher.announce and not scheduled:
                try:
                    self.refresher.announce(incident, kind)
                except Exception as exc:  # noqa: BLE001 - subscribers never fail the handling
                    logger.warning("public notice not sent", extra={"error": type(exc).__name__})


def turn(before: Optional[tuple], after: tuple) -> Optional[str]:
    """ "opened" or "resolved" when the incident's status turned so between two public views."""
    if after[0] == OPEN and (before is None or before[0] != OPEN):
        return "opened"
    if before is not None and before[0] == OPEN and after[0] != OPEN:
        return "resolved"
    return None


def announce(config: Config, incident: Any, kind: str) -> int:
    """Tell the subscribers of the incident's components, in the page's own words."""
    from chalicelib.aws.clients import topic_arn
    from chalicelib.statuspage.extras import incident_view
    from chalicelib.subscriptions.announce import PublicNotices

    components = sorted({m.component or m.name for m in config.monitors})
    notices = PublicNotices(topic_arn(config.settings.notify_topic), components)
    return notices.announce(incident_view(incident, config), kind)


def public(incident: Any) -> tuple:
    """What the site shows of an incident: its status and the public steps of its story."""
    steps = tuple(e["text"] for e in timeline(incident.story, incident.opened_at))
    return (incident.status, incident.opened_at, steps)
