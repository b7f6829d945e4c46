"""Helpers for the alarm tests: the sample events in events/ and a record builder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events"
PROBE_NAMESPACE = "Autoheal"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def record_with(body: Any, message_id: str = "0f1e2d3c-aaaa-bbbb-cccc-123456789abc") -> dict:
    """A Lambda SNS record whose Message is `body` (JSON-encoded unless already a string)."""
    message = body if isinstance(body, str) else json.dumps(body)
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "Sns": {"Type": "Notification", "MessageId": message_id, "Message": message},
    }
