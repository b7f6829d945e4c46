"""Is this under maintenance? The one question the probe (before it publishes a DOWN) and
`on_alarm` (before it opens an incident) both ask: the manual switch, read once per question,
and the config's windows (`cover.silences`)."""

from __future__ import annotations

from typing import Callable, Optional

from chalicelib.config.model import Config
from chalicelib.maintenance.cover import silences
from chalicelib.maintenance.mode import ManualMaintenance


def under_maintenance(
    config: Config,
    manual: Callable[[], Optional[ManualMaintenance]],
    monitor: Optional[str],
    runbook: Optional[str],
    at: float,
) -> bool:
    """`manual()` reads the switch (`MaintenanceStore.current`); a read that fails raises, so
    `on_alarm` fails and Lambda retries it (the probe reads through `or_none`).

    >>> under_maintenance(config, store.current, "web", "restart-web", time.time())  # doctest: +SKIP
    """
    return silences(config, manual(), monitor, runbook, at)


def or_none(
    read: Callable[[], Optional[ManualMaintenance]],
) -> Callable[[], Optional[ManualMaintenance]]:
    """The probe's reading: an unreadable switch counts as off, so the windows still hold back
    what they cover and the cycle goes on."""

    def reading() -> Optional[ManualMaintenance]:
        try:
            return read()
        except Exception:  # noqa: BLE001 - unreadable switch: windows still count
            return None

    return reading
