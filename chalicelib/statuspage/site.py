"""The status site's life in the probe: record every cycle, write only when something changed.

How the probe feeds it, and what that costs per cycle:

- Each cycle hands its results to `StatusSite.cycle`. They go into an in-memory `Accumulator`
  (kept across warm invocations with the site object): no AWS call for a cycle where nothing
  changed, except reading the manual maintenance switch at most once a minute.
- When a component's public state changes (status, since, coarse reason, maintenance), in that
  same cycle the closed minutes are flushed to the day rollups (one BatchWrite of the touched
  day items) and the site's objects are republished. Without a change the flush and publish
  happen once an hour (`FLUSH_EVERY`), so uptime figures and latency stay fresh and a
  recycled container loses at most an hour of minutes, which then show as "not checked":
  never as up.
- A cold container loads 90 days of rollups once (one Query) and publishes on its first cycle.

>>> site = StatusSite(config)                                # doctest: +SKIP
>>> site.cycle(states, results, now=time.time())             # doctest: +SKIP
True
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping, Optional

from chalicelib.config.model import Config
from chalicelib.maintenance import windows
from chalicelib.maintenance.mode import ManualMaintenance
from chalicelib.probe.result import ProbeResult
from chalicelib.state.thresholds import MonitorState
from chalicelib.statuspage import history as h
from chalicelib.statuspage.badges import render_badges
from chalicelib.statuspage.document import Extras, MaintenanceView, build_status
from chalicelib.statuspage.feed import render_feed
from chalicelib.statuspage.history_page import render_history
from chalicelib.statuspage.maintenance_page import render_maintenance
from chalicelib.statuspage.publish import FEED, HISTORY, INDEX, MAINTENANCE_PAGE, STATUS_JSON, SitePublisher
from chalicelib.statuspage.reasons import coarse
from chalicelib.statuspage.render import render_index

FLUSH_EVERY = 3600.0
MAINTENANCE_READ_EVERY = 60.0
ANNOUNCE_AHEAD = 14 * 86400.0

ExtrasSource = Callable[[float], Mapping[str, Any]]  # -> {"incident", "incidents", "deployments"}


class StatusSite:
    def __init__(
        self,
        config: Config,
        history_store: Any = None,  # HistoryStore
        publisher: Optional[SitePublisher] = None,
        maintenance_store: Any = None,  # MaintenanceStore
        extras: Optional[ExtrasSource] = None,
        badges: bool = True,
        gate: Any = None,  # PublishGate: the probe's publishes stamp it and catch up deferred changes
    ) -> None:
        from chalicelib.maintenance.store import MaintenanceStore
        from chalicelib.statuspage.history_store import HistoryStore

        table = config.settings.state_table
        self.config = config
        self.history_store = history_store or HistoryStore(table)
        self.publisher = publisher or SitePublisher(config.settings.status_bucket)
        self.maintenance_store = maintenance_store or MaintenanceStore(table)
        self.extras = extras
        self.badges = badges  # off for the incident refresh: uptime badges keep the probe's pace
        self.gate = gate
        self._pending: tuple[float, bool] = (float("-inf"), False)
        self.accumulator = h.Accumulator()
        self.history: Optional[dict[str, dict[str, h.DayRollup]]] = None
        self.last_flush: Optional[float] = None
        self.last_fingerprint: Optional[str] = None
        self._manual: tuple[float, Optional[ManualMaintenance]] = (float("-inf"), None)

    # -- per cycle ------------------------------------------------------------------------------
    def cycle(
        self, states: Mapping[str, MonitorState], results: Mapping[str, ProbeResult], now: float
    ) -> bool:
        """Record the cycle; flush and publish when something public changed. True if published."""
        view = self.maintenance_view(now)
        for monitor in self.config.monitors:
            result = results.get(monitor.name)
            if result is None or result.skipped:
                continue  # not checked: the minute stays unknown
            if view.covers(monitor.component or monitor.name):
                state = h.MAINTENANCE
            else:
                state = h.UP if result.ok else h.DOWN
            self.accumulator.record(
                monitor.name, result.checked_at or now, state, result.latency_ms, coarse(result.reason)
            )
        fingerprint = self.fingerprint(states, view)
        due = self.last_flush is None or now - self.last_flush >= FLUSH_EVERY
        if fingerprint == self.last_fingerprint and not due and not self.refresh_pending(now):
            return False
        self.flush(now)
        self.publish(states, results, now, view)
        return True

    def fingerprint(self, states: Mapping[str, MonitorState], view: MaintenanceView) -> str:
        public = [
            (m.name, s.status, round(s.since), coarse(s.reason))
            for m in self.config.monitors
            for s in [states.get(m.name, MonitorState())]
        ]
        return json.dumps([public, list(view.active)], sort_keys=True, default=str)

    def flush(self, now: float) -> None:
        history = self.loaded_history(now)
        delta = self.accumulator.drain(now)
        h.merge_into(history, delta)
        if delta:
            self.history_store.save(history, delta.keys())
        self.last_flush = now

    # -- publishing (also on every maintenance mode change) -------------------------------------
    def publish(
        self,
        states: Mapping[str, MonitorState],
        results: Mapping[str, ProbeResult],
        now: float,
        view: Optional[MaintenanceView] = None,
    ) -> dict:
        view = view or self.maintenance_view(now, fresh=True)
        if self.gate is not None:
            self.gate.stamp(now)  # before reading: a change after this is left pending
            self._pending = (now, False)
        extra = dict(self.extras(now)) if self.extras else {}
        extras = Extras(
            incident=extra.get("incident"),
            incidents=extra.get("incidents", ()),
            deployments=extra.get("deployments", ()),
            maintenance=view,
            maintenance_log=self.maintenance_store.log(),
            notes=extra.get("notes", ()),
        )
        document = build_status(self.config.monitors, states, results, self.loaded_history(now), now, extras)
        self.publisher.publish(render_all(document, self.config, badges=self.badges))
        self.last_fingerprint = self.fingerprint(states, view)
        return document

    def refresh_pending(self, now: float) -> bool:
        """An incident change left for a later publish (read at most once a minute)."""
        read_at, pending = self._pending
        if self.gate is None:
            return False
        if now - read_at >= MAINTENANCE_READ_EVERY:
            pending = self.gate.pending()
            self._pending = (now, pending)
        return pending

    def loaded_history(self, now: float) -> dict[str, dict[str, h.DayRollup]]:
        if self.history is None:
            days = h.last_days(now, 90)
            self.history = self.history_store.load(days[0], days[-1])
        return self.history

    def maintenance_view(self, now: float, fresh: bool = False) -> MaintenanceView:
        return maintenance_view(self.config, self.manual(now, fresh), now)

    def manual(self, now: float, fresh: bool = False) -> Optional[ManualMaintenance]:
        """The manual switch, read at most once a minute (the probe's silencing reads it too)."""
        read_at, manual = self._manual
        if fresh or now - read_at >= MAINTENANCE_READ_EVERY:
            manual = self.maintenance_store.current()
            self._manual = (now, manual)
        return manual


def maintenance_view(config: Config, manual: Optional[ManualMaintenance], now: float) -> MaintenanceView:
    """Manual maintenance (unless expired) and the config's windows, now and announced."""
    active: list[dict] = []
    if manual is not None and not manual.expired(now):
        active.append(
            {
                "message": manual.message,
                "start": manual.since,
                "end": manual.until,
                "components": list(manual.components),
            }
        )
    windows_now = windows.active(config.maintenance.windows, now)
    active += [
        {"message": o.message, "start": o.start, "end": o.end, "components": list(o.components)}
        for o in windows_now
    ]
    scheduled = [
        {"message": o.message, "start": o.start, "end": o.end, "components": list(o.components)}
        for o in windows.upcoming(config.maintenance.windows, now, ANNOUNCE_AHEAD)
    ]
    return MaintenanceView(active=tuple(active), scheduled=tuple(scheduled))


def render_all(document: Mapping[str, Any], config: Config, badges: bool = True) -> dict[str, bytes]:
    return {
        MAINTENANCE_PAGE: render_maintenance(document, config.maintenance).encode(),
        STATUS_JSON: json.dumps(document, separators=(",", ":")).encode(),
        INDEX: render_index(document, subscribe_url=config.settings.subscribe_url).encode(),
        FEED: render_feed(document).encode(),
        HISTORY: render_history(document).encode(),
        **(render_badges(document) if badges else {}),
    }
