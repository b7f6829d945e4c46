"""The `maintenance` function: switch maintenance mode on or off by hand, or ask for its state.

    {"action": "on", "message": "...", "for": "30m" | "until": ISO, "components": [...]}
    {"action": "off"}
    {"action": "status"}

A bad payload answers {"error": "<key>: <what was expected>"} and changes nothing. Every
change republishes the status site. The ALB side goes through an injected listener object
(`divert(reason)` / `restore()`), so this module knows nothing of listeners and rules.
A forgotten maintenance ends by itself: `follow_up` calls `end_expired(now)`.

>>> MaintenanceFunction.for_config(config).handle({"action": "status"})  # doctest: +SKIP
{'mode': 'off', ...}
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional, Protocol

from aws_lambda_powertools import Logger

from chalicelib.config.model import Config
from chalicelib.maintenance import windows
from chalicelib.maintenance.mode import ManualMaintenance, PayloadError, parse_request
from chalicelib.maintenance.store import MaintenanceStore

logger = Logger(service="autoheal", child=True)


class Listener(Protocol):
    def divert(self, reason: str) -> None: ...
    def restore(self) -> None: ...


class MaintenanceFunction:
    def __init__(
        self,
        config: Config,
        store: MaintenanceStore,
        listener: Listener,
        republish: Callable[[float], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.listener = listener
        self.republish = republish
        self.clock = clock

    @classmethod
    def for_config(cls, config: Config, listener: Optional[Listener] = None) -> MaintenanceFunction:
        """The deployed wiring: the project's table, the ALB listener adapter, the status site."""
        store = MaintenanceStore(config.settings.state_table)
        return cls(config, store, listener or DeferredListener(config), site_republisher(config))

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
        if previous is None or previous.expired(now):  # already diverted otherwise: divert once
            try:
                self.listener.divert(mode.message)
            except Exception as exc:  # noqa: BLE001 - the record must not claim what the ALB did not do
                self.store.discard(mode.since)
                logger.error(f"maintenance on failed at the load balancer: {type(exc).__name__}: {exc}")
                return {
                    "error": f"load balancer: could not divert to the maintenance page ({type(exc).__name__})"
                }
        logger.info("maintenance on", extra={"until": mode.until, "components": list(mode.components)})
        return self.after_change(now)

    def switch_off(self, now: float) -> dict:
        ended = self.store.end(now)
        if ended is not None:
            self.listener.restore()
            logger.info("maintenance off")
        return self.after_change(now) if ended else self.status(now)

    def end_expired(self, now: float) -> Optional[dict]:
        """End a manual maintenance past its expiry; None when there is nothing to end."""
        current = self.store.current()
        if current is None or not current.expired(now):
            return None
        if self.store.end(now, expected_since=current.since) is None:
            return None  # switched again meanwhile
        self.listener.restore()
        logger.info("maintenance ended at its expiry", extra={"until": current.until})
        return {"ended": "expired", **self.after_change(now)}

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
    """The ALB adapter, built on first use: `status` and bad payloads never need it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._listener: Optional[Listener] = None

    def get(self) -> Listener:
        if self._listener is None:
            from chalicelib.maintenance.listener import listener_for  # the ALB side

            self._listener = listener_for(self.config)
        return self._listener

    def divert(self, reason: str) -> None:
        self.get().divert(reason)

    def restore(self) -> None:
        self.get().restore()


def occurrence(o: windows.Occurrence) -> dict:
    return {
        "start": windows.iso(o.start),
        "end": windows.iso(o.end),
        "message": o.message,
        "components": list(o.components),
    }


def site_republisher(config: Config) -> Callable[[float], None]:
    """Publishes the four objects from the stored monitor states (no probe run needed)."""

    def republish(now: float) -> None:
        from chalicelib.state.store import StateStore
        from chalicelib.statuspage.site import StatusSite

        StatusSite(config).publish(StateStore(config.settings.state_table).load(), {}, now)

    return republish
