"""The maintenance service (the `maintenance` function's): switch it on or off, or ask its state.

    {"action": "on", "message": "...", "for": "30m" | "until": ISO, "components": [...]}
    {"action": "off"}
    {"action": "status"}

A bad payload answers {"error": "<key>: <what was expected>"} and changes nothing. Every
change republishes the status site. The ALB side goes through an injected listener object
(`divert(reason)` / `restore()`), so this module knows nothing of listeners and rules.
A forgotten maintenance ends by itself, and scheduled windows begin and end at the load
balancer: `follow_up` calls `follow(now)` every minute. When a maintenance ends, monitors still
down whose ALARM was held back are raised on the alarms topic at once, so `on_alarm` opens
their incidents, tells people and starts their runbooks as for any outage.

>>> wiring.maintenance_function().handle({"action": "status"})  # doctest: +SKIP
{'mode': 'off', ...}
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Optional, Protocol

from aws_lambda_powertools import Logger

from chalicelib.config.model import Config
from chalicelib.maintenance import cover, windows
from chalicelib.maintenance.mode import ManualMaintenance, PayloadError, parse_request
from chalicelib.maintenance.store import MaintenanceStore

logger = Logger(service="autoheal", child=True)


class Diverter(Protocol):
    def divert(self, reason: str) -> object: ...
    def restore(self) -> object: ...
    def diverted(self) -> bool: ...


class MaintenanceFunction:
    def __init__(
        self,
        config: Config,
        store: MaintenanceStore,
        listener: Diverter,
        republish: Callable[[float], None],
        clock: Callable[[], float] = time.time,
        announce: Callable[[float], list[str]] = lambda now: [],
    ) -> None:
        self.config = config
        self.store = store
        self.listener = listener
        self.republish = republish
        self.clock = clock
        self.announce = announce  # at the end of a maintenance: raise what is still down

    def handle(self, payload: Any) -> dict:
        now = self.clock()
        components = {m.component or m.name for m in self.config.monitors}
        try:
            request = parse_request(payload, components, now)
        except PayloadError as exc:
            return {"error": str(exc)}
        if request.action == "on":
            assert request.mode is not None
            return self.switch_on(request.mode, now)
        if request.action == "off":
            return self.switch_off(now)
        return self.status(now)

    def switch_on(self, mode: ManualMaintenance, now: float) -> dict:
        previous = self.store.current()
        if previous is not None and not previous.expired(now):
            mode = ManualMaintenance(mode.message, previous.since, mode.until, mode.components)
        self.store.put(mode)
        try:
            self.settle(now)
        except Exception as exc:  # noqa: BLE001 - the record must not claim what the ALB did not do
            if self.listener_diverted():
                # The listener's owner holds the divert (done, or to be finished by reconcile):
                # users see the page, so the switch stands and follow_up completes the record.
                logger.warning(f"maintenance on: recorded late ({type(exc).__name__}); follow_up finishes it")
                return {
                    **self.after_change(now),
                    "warnings": [
                        f"the page is up; its record failed ({type(exc).__name__}): follow_up completes it"
                    ],
                }
            if previous is None or previous.expired(now):
                self.store.discard(mode.since)
            logger.error(f"maintenance on failed at the load balancer: {type(exc).__name__}: {exc}")
            return {
                "error": f"load balancer: could not divert to the maintenance page ({type(exc).__name__})"
            }
        logger.info("maintenance on", extra={"until": mode.until, "components": list(mode.components)})
        return self.after_change(now)

    def switch_off(self, now: float) -> dict:
        ended = self.end(now)
        if ended is None:
            settled = self.settle(now)  # no switch on record, yet the page may be up
            return {**self.after_change(now), **settled} if settled else self.status(now)
        logger.info("maintenance off")
        return ended

    def end(self, now: float, expected_since: Optional[float] = None) -> Optional[dict]:
        """End the switch (only the one that began at `expected_since`, when given), restore the
        load balancer unless a window goes on, republish; None when there was nothing to end."""
        if self.store.end(now, expected_since=expected_since) is None:
            return None
        settled = self.settle(now)  # the listener first: the page republished after says so
        return {**self.after_change(now), **settled}

    def end_expired(self, now: float) -> Optional[dict]:
        """End a manual maintenance past its expiry; None when there is nothing to end."""
        current = self.store.current()
        if current is None or not current.expired(now):
            return None
        ended = self.end(now, expected_since=current.since)
        if ended is None:
            return None  # switched again meanwhile
        logger.info("maintenance ended at its expiry", extra={"until": current.until})
        return {"ended": "expired", **ended}

    def follow(self, now: Optional[float] = None) -> dict:
        """Each minute (from follow_up): end a forgotten switch, and put windows into effect when
        they start and out of it when they end. Idempotent: a minute that changes nothing writes
        nothing."""
        now = self.clock() if now is None else now
        ended = self.end_expired(now)
        if ended is not None:
            return ended
        settled = self.settle(now)
        if settled:
            return {**self.after_change(now), **settled}
        return {}

    def settle(self, now: float) -> dict:
        """Make the load balancer and the record match what is in effect. The listener goes to
        the page only while a maintenance covers every component it serves, and comes back when
        none does; the record says whether any maintenance is in effect, and when the last one
        ends, what is still down is raised. {} when the record did not change."""
        windows_, current = self.config.maintenance.windows, self.store.current()
        message = cover.in_effect(windows_, current, now)
        divert = cover.diverting(windows_, current, cover.served_by_listener(self.config), now)
        recorded = self.store.in_effect()
        # The listener before the record: a crash between is finished by the next minute.
        if divert is not None and not self.listener_diverted():
            self.listener.divert(divert)
        elif divert is None and self.listener_diverted():
            self.listener.restore()  # also a divert that was never recorded
        if message is not None and not recorded:
            self.store.set_in_effect(message, now)
            return {"maintenance": "began"}
        if message is None and recorded:
            self.store.set_in_effect(None, now)
            still_down = self.announce(now)
            logger.info("maintenance ended", extra={"still_down": still_down})
            return {"maintenance": "ended", "still_down": still_down}
        return {}

    def listener_diverted(self) -> bool:
        try:
            return bool(self.listener.diverted())
        except Exception:  # noqa: BLE001 - unknown: the record decides
            logger.exception("could not read the listener's desired state")
            return False

    def after_change(self, now: float) -> dict:
        result = self.status(now)
        try:
            self.republish(now)
        except Exception as exc:  # noqa: BLE001 - the mode changed; the next probe cycle republishes
            result["warnings"] = [f"status site not republished: {type(exc).__name__}"]
        return result

    def status(self, now: float) -> dict:
        current = self.store.current()
        on = current is not None and not current.expired(now)
        result: dict[str, Any] = {"mode": "on" if on else "off"}
        if on:
            assert current is not None
            result.update(
                message=current.message,
                since=windows.iso(current.since),
                until=windows.iso(current.until),
                components=list(current.components),
            )
        result["windows"] = {
            "active": [occurrence(o) for o in windows.active(self.config.maintenance.windows, now)],
            "scheduled": [occurrence(o) for o in windows.upcoming(self.config.maintenance.windows, now)[:10]],
        }
        return result


class DeferredListener:
    """The ALB side, built on first use by `build()`: `status` and bad payloads never need it."""

    def __init__(self, build: Callable[[], Diverter]) -> None:
        self.build = build
        self._listener: Optional[Diverter] = None

    def get(self) -> Diverter:
        if self._listener is None:
            self._listener = self.build()
        return self._listener

    def divert(self, reason: str) -> object:
        return self.get().divert(reason)

    def restore(self) -> object:
        return self.get().restore()

    def diverted(self) -> bool:
        return self.get().diverted()


def occurrence(o: windows.Occurrence) -> dict:
    return {
        "start": windows.iso(o.start),
        "end": windows.iso(o.end),
        "message": o.message,
        "components": list(o.components),
    }


def still_down_announcer(
    config: Config,
    monitor_states: Callable[[], Mapping[str, Any]],
    alarm_states: Callable[[list[str]], Mapping[str, str]],
    publish: Callable[[str, dict, str], object],
) -> Callable[[float], list[str]]:
    """At a maintenance's end: publish an ALARM for each monitor still DOWN whose ALARM the
    probe held back (the alarm ledger does not have it in ALARM). Returns the monitors raised.
    `monitor_states()` is the probe's stored states (with settings.vantage_points, the quorum's
    acted status: a lone blind region's view is no reason to page), `alarm_states(names)` the ledger's,
    `publish(topic, message, subject)` the alarms topic's."""

    def announce(now: float) -> list[str]:
        from datetime import UTC, datetime

        from chalicelib.alarms.message import probe_alarm_message, probe_alarm_name
        from chalicelib.state.thresholds import DOWN

        settings = config.settings
        states = monitor_states()
        down = [m.name for m in config.monitors if m.name in states and states[m.name].status == DOWN]
        if not down:
            return []
        recorded = alarm_states([probe_alarm_name(n) for n in down])
        raised = []
        for name in down:
            if recorded.get(probe_alarm_name(name)) == "ALARM":
                continue  # its incident is already open
            reason = f"still down as maintenance ends: {states[name].reason or 'failing'}"
            message = probe_alarm_message(
                name, "ALARM", "OK", reason, settings.metrics_namespace, datetime.fromtimestamp(now, UTC)
            )
            publish(settings.alarm_topic, message, f"{name} is DOWN")
            raised.append(name)
        return raised

    return announce


def follow_maintenance(service: MaintenanceFunction, now: float) -> list[str]:
    """follow_up's minute for maintenance; never raises (the incidents are followed anyway)."""
    try:
        result = service.follow(now)
    except Exception as exc:  # noqa: BLE001
        logger.exception("maintenance follow-up failed")
        return [f"error: {type(exc).__name__}: {exc}"[:300]]
    if not result:
        return []
    said = [f"{k}: {v}" for k, v in result.items() if k in ("ended", "maintenance", "still_down")]
    return said + [f"warning: {w}" for w in result.get("warnings", [])]
