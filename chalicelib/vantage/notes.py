"""The status history's notes: windows in which regions saw monitors failing without a quorum.

The home table holds one item per window and set of failing regions (`VoteStore.blips`); the
page shows each as one line, regions and a count, never the monitors' names.

>>> site_extras(config, incidents, deployments, blips=vantage_notes(config))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Optional

from aws_lambda_powertools import Logger

from chalicelib.config.model import Config
from chalicelib.statuspage.extras import MAX_NOTES, RECENT_DAYS, Notes, note_view
from chalicelib.vantage.gate import WINDOW_SECONDS
from chalicelib.vantage.votes import VoteStore

logger = Logger(service="autoheal", child=True)


def vantage_notes(config: Config) -> Optional[Notes]:
    """With settings.vantage_points: the notes' reader (one Query of the home table), newest
    first; None without vantage points."""
    points = config.settings.vantage
    if points is None:
        return None
    store = VoteStore(config.settings.state_table, points.home)
    seconds = config.settings.probe_every or WINDOW_SECONDS

    def read(now: float) -> list[dict[str, Any]]:
        try:
            found = store.blips(now - RECENT_DAYS * 86400, seconds)
        except Exception as exc:  # noqa: BLE001 - a note is never worth a site not published
            logger.warning(f"vantage notes unread, the history shows none: {type(exc).__name__}: {exc}")
            return []
        return [note_view(b) for b in sorted(found, key=lambda b: b.at, reverse=True)][:MAX_NOTES]

    return read
