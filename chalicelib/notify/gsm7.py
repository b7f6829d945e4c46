"""SMS in one segment: GSM 03.38 (the GSM-7 alphabet) only, at most 160 septets.

One character outside GSM-7 makes a carrier send the whole text as UCS-2, where a segment holds
70 characters: a 140-character alert becomes two or three SMS, each billed. So the text is
transliterated (accents dropped, typographic quotes and dashes made plain), what has no GSM-7
form becomes "?", and the length is counted in septets (the extension table's characters, such
as `{` or `€`, take two).

>>> to_gsm7("Café “down” — 5 min…")
'Café "down" - 5 min...'
>>> septets("{x}")
5
"""

from __future__ import annotations

import unicodedata

SEGMENT_SEPTETS = 160
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "^{}\\[~]|€\f"
PLAIN = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2026": "...", "\u00b7": "-", "\u2022": "-", "\u00a0": " ", "\u2192": "->",
}  # fmt: skip
_GSM = set(BASIC) | set(EXTENSION)


def to_gsm7(text: str) -> str:
    """Every character in GSM-7: kept, made plain, stripped of its accent, or "?"."""
    out = []
    for char in text:
        if char in _GSM:
            out.append(char)
        elif char in PLAIN:
            out.append(PLAIN[char])
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            out.append(base if base and all(c in _GSM for c in base) else "?")
    return "".join(out)


def septets(text: str) -> int:
    return sum(2 if char in EXTENSION else 1 for char in text)


def fit_segment(text: str, limit: int = SEGMENT_SEPTETS, ellipsis: str = "...") -> str:
    """Cut a GSM-7 text to `limit` septets, saying so with an ellipsis."""
    if septets(text) <= limit:
        return text
    room = limit - septets(ellipsis)
    kept, used = [], 0
    for char in text:
        used += septets(char)
        if used > room:
            break
        kept.append(char)
    return "".join(kept).rstrip() + ellipsis
