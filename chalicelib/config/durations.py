"""Durations as people write them in YAML: "500ms", "5s", "2m", "1h", "14d"."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(text: object) -> float:
    """Return the duration in seconds, or raise ValueError.

    >>> parse_duration("2m")
    120.0
    """
    if not isinstance(text, str):
        # `timeout: 5` is the usual slip: show the value and that it was read as a number.
        shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "..."
        raise ValueError(f'expected a duration like "5s", got {shown} ({type(text).__name__})')
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f'expected a duration like "5s", got {text!r}')
    return float(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of a duration, for messages: 90 -> "90s", 120 -> "2m"."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
