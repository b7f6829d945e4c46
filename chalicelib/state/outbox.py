"""A monitor's outbox limit: which unsent alarm messages are kept when there are too many.

The newest messages say where the monitor is now; the oldest unsent DOWN (an ALARM) is the one
that opens the incident, so it is kept too. Everything in between is dropped, and counted.

>>> kept, dropped = trim(messages, OUTBOX_LIMIT)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Sequence

OUTBOX_LIMIT = 20  # messages kept per monitor while SNS does not take them
DOWN_STATE = "ALARM"


def trim(messages: Sequence[dict[str, Any]], limit: int = OUTBOX_LIMIT) -> tuple[list[dict[str, Any]], int]:
    """Keep the oldest DOWN plus the newest messages, `limit` in all, in their order; returns
    the kept messages and how many were dropped."""
    if limit < 1:
        raise ValueError(f"limit: expected at least 1, got {limit}")
    if len(messages) <= limit:
        return list(messages), 0
    newest = list(messages[len(messages) - limit :])
    first_down = next((m for m in messages if m.get("NewStateValue") == DOWN_STATE), None)
    if first_down is None or any(m is first_down for m in newest):
        return newest, len(messages) - limit
    return [first_down, *newest[1:]], len(messages) - limit
