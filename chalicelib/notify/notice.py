"""A Notice: one thing people should hear about an incident, whatever the channel.

>>> Notice("opened", "web", "web is DOWN", lines=("21:03:04 DOWN: timeout after 5s",))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Mapping, Optional

# Escalations and an exhausted budget: never held back by a channel's delay or limit.
URGENT = ("escalated", "budget_exhausted")
# What a rate limit never folds: the urgent, a test message and the digest itself.
ALWAYS_SENT = (*URGENT, "test", "digest")
NOTICE_KINDS = (
    "opened",
    "action",
    "recovered",
    "escalated",
    "budget_exhausted",
    "reminder",
    "test",
    "digest",
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Notice:
    """What to tell people; the formatters in `notify.format` shape it per channel."""

    kind: str  # one of NOTICE_KINDS
    incident: str  # incident id, e.g. "web" or "web-blue-memory-high"
    title: str  # one line, e.g. "web is DOWN"
    lines: tuple[str, ...] = ()  # the story so far, oldest first
    command_id: Optional[str] = None  # the SSM command, when one was sent
    downtime_s: Optional[float] = None
    at: datetime = field(default_factory=_now)
    note: Optional[str] = None  # a word from the channel itself, e.g. that its limit was reached

    def __post_init__(self) -> None:
        if self.kind not in NOTICE_KINDS:
            raise ValueError(f"kind: expected one of {', '.join(NOTICE_KINDS)}")
        if not isinstance(self.lines, tuple):  # a list would make the notice unhashable
            object.__setattr__(self, "lines", tuple(self.lines))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (kept in the incident while a channel has not taken it)."""
        data = asdict(self)
        data["lines"], data["at"] = list(self.lines), self.at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notice:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["at"] = datetime.fromisoformat(str(fields["at"]))
        fields["lines"] = tuple(fields.get("lines", ()))
        return cls(**fields)
