"""The body an ALB fixed response sends while maintenance is on: a page that forwards the browser
to the full maintenance page. Here, below the config, because the config loader checks a
page_url's page against the same limit the listener meets."""

from __future__ import annotations

import html
import json

FIXED_RESPONSE_LIMIT = 1024  # ALB's limit on a fixed response's body, in bytes


def fixed_page(page_url: str, reason: str) -> str:
    """A 503 body that sends the browser to the full maintenance page (which polls and returns)."""
    url = html.escape(page_url, quote=True)
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f'<meta http-equiv="refresh" content="0;url={url}"><title>Maintenance</title>'
        f"<p>{html.escape(reason[:200])}</p>"
        f'<p><a href="{url}">Maintenance in progress: status and updates</a></p>'
        f"<script>location.replace({json.dumps(page_url)})</script></html>"
    )
