"""Escaping for every context a page puts text in. Text from alarms and config is never trusted.

>>> html_text('<img src=x onerror=alert(1)>')
'&lt;img src=x onerror=alert(1)&gt;'
>>> script_json({"name": "</script><script>alert(1)</script>"})
'{"name": "\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(1)\\\\u003c/script\\\\u003e"}'
"""

from __future__ import annotations

import html
import json
import re

# Characters XML 1.0 forbids even when escaped: a feed reader rejects the whole feed on one.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def html_text(value: object) -> str:
    """For element content and quoted attribute values alike (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def script_json(value: object) -> str:
    """JSON for inside <script>: no '</script>', no '<!--', no line separators that end a JS string."""
    text = json.dumps(value, ensure_ascii=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _SCRIPT_UNSAFE[m.group(0)], text)


def xml_text(value: object) -> str:
    return html.escape(_XML_INVALID.sub("", str(value)), quote=True)
