"""The subscribe form's POST body: `email` and `component` (repeated), URL-encoded (pure).

>>> read_form(b"email=ana%40example.com&component=API", ["API", "Website"])
SubscribeRequest(email='ana@example.com', components=('API',))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Collection, Union
from urllib.parse import parse_qs

MAX_BODY = 4096
# One address, no spaces or controls: SNS checks the rest (and the confirmation proves it).
EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
)


class FormError(ValueError):
    """What is wrong with the form, in words for the person who sent it."""


@dataclass(frozen=True)
class SubscribeRequest:
    email: str
    components: tuple[str, ...]  # every component when the form named none


def read_form(body: Union[bytes, str, None], components: Collection[str]) -> SubscribeRequest:
    raw = body or b""
    if len(raw) > MAX_BODY:
        raise FormError("The form is too large.")
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    fields = parse_qs(text, max_num_fields=len(components) + 4)
    emails = fields.get("email", [])
    if len(emails) != 1 or len(emails[0]) > 254 or not EMAIL.match(emails[0].strip()):
        raise FormError("Please give one e-mail address.")
    asked = list(dict.fromkeys(fields.get("component", [])))
    unknown = [c for c in asked if c not in components]
    if unknown:
        raise FormError("Please choose components from the list.")
    return SubscribeRequest(emails[0].strip(), tuple(asked or sorted(components)))
