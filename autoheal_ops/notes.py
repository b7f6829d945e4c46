"""What the operator is told besides the answer: an action that changed nothing, a shortened window."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional


def _end(answer: Any) -> Optional[datetime]:
    until = answer.get("until") if isinstance(answer, dict) and answer.get("mode", "on") == "on" else None
    if isinstance(until, (int, float)):
        return datetime.fromtimestamp(until).astimezone()
    return datetime.fromisoformat(until.replace("Z", "+00:00")) if isinstance(until, str) else None


def shortened(before: Any, after: Any) -> Optional[str]:
    """A second `maintenance on` replaces the running window: say so when it ends sooner."""
    old, new = _end(before), _end(after)
    if old is None or new is None or new >= old or (isinstance(after, dict) and after.get("error")):
        return None
    return f"warning: maintenance now ends at {new.isoformat()}, not {old.isoformat()} as before"


def nothing_in_flight(deployment: str, before: Any, after: Any) -> Optional[str]:
    """`shift abort` with no shift under way answers the status: say nothing was aborted."""
    if not isinstance(before, dict) or before.get("error") or before.get("state") == "shifting":
        return None
    if isinstance(after, dict) and after.get("state") == before.get("state"):
        return f"nothing in flight: {deployment} is {before.get('state') or 'idle'}"
    return None
