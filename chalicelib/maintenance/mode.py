"""The manual maintenance switch: its record and the validation of the function's payload (pure).

>>> request = parse_request({"action": "on", "message": "db upgrade", "for": "30m"}, {"Website"}, now=0)
>>> request.action, request.mode.until, request.mode.components
('on', 1800.0, ())
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Collection, Mapping, Optional

from chalicelib.config.durations import parse_duration

ACTIONS = ("on", "off", "status")
MAX_MESSAGE = 500
MAX_DURATION = 7 * 86400  # a manual maintenance longer than a week is a typo, not a plan
DEFAULT_MESSAGE = "Scheduled maintenance is in progress."


class PayloadError(ValueError):
    """A bad payload: names the key; nothing was changed."""

    def __init__(self, key: str, expected: str) -> None:
        super().__init__(f"{key}: {expected}")


@dataclass(frozen=True)
class ManualMaintenance:
    """Maintenance switched on by hand; it ends by itself at `until`."""

    message: str
    since: float
    until: float
    components: tuple[str, ...] = ()  # empty: every component
    owner: str = ""  # the incident whose runbook switched it on ("": a person)

    def expired(self, now: float) -> bool:
        return now >= self.until

    def covers(self, component: str) -> bool:
        return not self.components or component in self.components


@dataclass(frozen=True)
class Request:
    action: str
    mode: Optional[ManualMaintenance] = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def parse_request(payload: object, components: Collection[str], now: float) -> Request:
    """Validate a `maintenance` invoke payload; raises PayloadError naming the bad key."""
    if not isinstance(payload, Mapping):
        raise PayloadError("(payload)", 'expected a JSON object like {"action": "status"}')
    action = payload.get("action")
    if action not in ACTIONS:
        raise PayloadError("action", f"expected one of {', '.join(ACTIONS)}, got {action!r}")
    allowed = {"action"} | ({"message", "for", "until", "components"} if action == "on" else set())
    unknown = sorted(str(k) for k in payload if k not in allowed)
    if unknown:
        raise PayloadError(
            unknown[0], f"unknown key for action {action!r} (allowed: {', '.join(sorted(allowed))})"
        )
    if action != "on":
        return Request(action)
    return Request(
        action,
        ManualMaintenance(
            read_message(payload), now, read_until(payload, now), read_components(payload, components)
        ),
    )


def read_message(payload: Mapping) -> str:
    message = payload.get("message", DEFAULT_MESSAGE)
    if not isinstance(message, str) or not message.strip():
        raise PayloadError("message", "expected a non-empty string")
    if len(message) > MAX_MESSAGE:
        raise PayloadError("message", f"expected at most {MAX_MESSAGE} characters, got {len(message)}")
    return message.strip()


def read_until(payload: Mapping, now: float) -> float:
    if ("for" in payload) == ("until" in payload):
        raise PayloadError(
            "for", 'expected exactly one of "for" (like "30m") or "until" (an ISO time with offset)'
        )
    if "for" in payload:
        try:
            seconds = parse_duration(payload["for"])
        except ValueError as exc:
            raise PayloadError("for", str(exc)) from None
        until = now + seconds
    else:
        text = payload["until"]
        try:
            at = datetime.fromisoformat(text) if isinstance(text, str) else None
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            raise PayloadError(
                "until", f"expected an ISO time with offset like '2025-06-01T22:00:00Z', got {text!r}"
            )
        until = at.timestamp()
    if until <= now:
        raise PayloadError("for" if "for" in payload else "until", "expected a time in the future")
    if until - now > MAX_DURATION:
        raise PayloadError("for" if "for" in payload else "until", "expected at most 7 days from now")
    return until


def read_components(payload: Mapping, known: Collection[str]) -> tuple[str, ...]:
    chosen = payload.get("components", [])
    if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
        raise PayloadError("components", "expected a list of component names")
    for name in chosen:
        if name not in known:
            raise PayloadError(
                "components", f"no component named {name!r} (known: {', '.join(sorted(known))})"
            )
    return tuple(dict.fromkeys(chosen))


def to_dict(mode: ManualMaintenance) -> dict:
    return {
        "message": mode.message,
        "since": mode.since,
        "until": mode.until,
        "components": list(mode.components),
        "owner": mode.owner,
    }


def from_dict(data: Mapping) -> ManualMaintenance:
    return ManualMaintenance(
        message=str(data["message"]),
        since=float(data["since"]),
        until=float(data["until"]),
        components=tuple(str(c) for c in data.get("components", [])),
        owner=str(data.get("owner", "")),
    )
