"""Coarse, public reasons: what a status page may say about a failure.

Probe reasons can name hosts ("dns: host not found: db.internal"), quote bodies or carry
URLs; a public page says only the kind of failure.

>>> coarse("dns: host not found: db.internal")
'dns'
>>> coarse("status 503, expected 2xx")
'status 503'
"""

from __future__ import annotations

import re
from typing import Optional

_STATUS = re.compile(r"\bgot (\d{3})\b|\bstatus (\d{3})\b")
# Checked in order: the first kind whose words appear wins.
_KINDS = (
    ("maintenance", ("maintenance",)),
    ("certificate", ("certificate", "cert ")),
    ("tls", ("tls", "ssl", "handshake")),
    ("dns", ("dns", "name resolution", "host not found")),
    ("timeout", ("timeout", "timed out")),
    ("refused", ("refused",)),
    ("connection reset", ("reset", "closed without", "eof")),
    ("slow", ("response time", "slower", "too slow")),
    ("unexpected body", ("body", "json")),
)


def coarse(reason: Optional[str]) -> Optional[str]:
    """One of a fixed set of words (or 'status NNN'); never text taken from the reason itself."""
    if not reason:
        return None
    text = reason.lower()
    for kind, words in _KINDS[:3]:  # these outrank a status code quoted alongside them
        if any(word in text for word in words):
            return kind
    match = _STATUS.search(text)
    if match:
        return f"status {match.group(1) or match.group(2)}"
    for kind, words in _KINDS[3:]:
        if any(word in text for word in words):
            return kind
    return "error"
