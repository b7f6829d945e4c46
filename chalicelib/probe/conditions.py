"""Pure checks of an observed response against a monitor's `Expect` (no I/O).

Each function returns None when the condition holds, else a short reason.

>>> evaluate(Observation(status=502, elapsed=0.1), Expect(status=(200,)))
'status 502, expected [200]'
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from chalicelib.config.durations import format_duration
from chalicelib.config.model import Expect

_DAY = 86400.0
_MISSING = object()
_NOT_JSON = object()
_MAX_VALUE_TEXT = 60  # keep reasons short even when a value is huge


@dataclass(frozen=True)
class Observation:
    """The facts of one HTTP answer."""

    status: int
    elapsed: float  # seconds, request start to end of body
    body: bytes = b""
    truncated: bool = False  # the body was longer than the read cap
    cert_seconds_left: Optional[float] = None  # until notAfter; None when not checked


def evaluate(observed: Observation, expect: Expect) -> Optional[str]:
    """The first failing condition's reason, or None when all hold."""
    return (
        check_status(observed.status, expect.status)
        or check_response_time(observed.elapsed, expect.max_response_time)
        or check_body_contains(observed.body, expect.body_contains)
        or check_json(observed.body, expect.json, observed.truncated)
        or check_certificate(observed.cert_seconds_left, expect.certificate_valid_for)
    )


def check_status(status: int, expected: Sequence[int]) -> Optional[str]:
    if expected:
        if status in expected:
            return None
        return f"status {status}, expected [{', '.join(str(s) for s in expected)}]"
    return None if 200 <= status < 300 else f"status {status}, expected 2xx"


def check_response_time(elapsed: float, limit: Optional[float]) -> Optional[str]:
    if limit is None or elapsed <= limit:
        return None
    taken = format_duration(math.ceil(elapsed * 1000) / 1000)  # never "1s, at most 1s"
    return f"response time {taken}, expected at most {format_duration(limit)}"


def check_body_contains(body: bytes, text: Optional[str]) -> Optional[str]:
    if text is None or text.encode("utf-8") in body:
        return None
    return f"body does not contain {_short(text)}"


def check_json(body: bytes, expected: Mapping[str, object], truncated: bool = False) -> Optional[str]:
    if not expected:
        return None
    if truncated:
        return "json: body too large to parse"
    document = parse_json(body)
    if document is _NOT_JSON:
        return "json: body is not JSON"
    for path, want in expected.items():
        reason = check_json_value(document, path, want)
        if reason:
            return reason
    return None


def check_json_value(document: object, path: str, want: object) -> Optional[str]:
    """Compare one dotted path of a parsed document with the expected value."""
    got = lookup(document, path)
    if got is _MISSING:
        return f"json {path}: missing"
    if not same_value(got, want):
        return f"json {path}: {_short(got)} != {_short(want)}"
    return None


def check_certificate(seconds_left: Optional[float], required: Optional[float]) -> Optional[str]:
    if required is None or seconds_left is None or seconds_left >= required:
        return None
    if seconds_left <= 0:
        return f"certificate expired {_rough(-seconds_left)} ago"
    return f"certificate expires in {_rough(seconds_left)}, expected at least {format_duration(required)}"


def parse_json(body: bytes) -> object:
    """The parsed document, or the `_NOT_JSON` marker."""
    try:
        return json.loads(body)
    except ValueError:  # includes JSONDecodeError and UnicodeDecodeError
        return _NOT_JSON


def lookup(document: object, path: str) -> object:
    """Follow "a.b.0.c" through objects and lists; `_MISSING` when any step is absent."""
    current = document
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def same_value(got: object, want: object) -> bool:
    """Equality that keeps booleans apart from numbers (JSON 1 is not YAML true)."""
    if isinstance(got, bool) or isinstance(want, bool):
        return type(got) is type(want) and got == want
    return got == want


def _short(value: object) -> str:
    text = repr(value)
    if len(text) > _MAX_VALUE_TEXT:
        return text[: _MAX_VALUE_TEXT - 3] + "..."
    return text


def _rough(seconds: float) -> str:
    """Whole days, hours or minutes: "3d", "5h", "12m" (floored, as people count them)."""
    for unit, size in (("d", _DAY), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
