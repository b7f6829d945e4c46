"""`POST /subscribe` on a Chalice app: the form's plain POST, answered with a small HTML page
(the person sees it without JavaScript)."""

from __future__ import annotations

import time
from typing import Any, Callable

FORM_TYPE = "application/x-www-form-urlencoded"
PATH = "/subscribe"


def register(
    app: Any,
    subscriptions: Callable[[], Any],
    counted: Callable[[Callable[..., Any]], Callable[..., Any]] = lambda view: view,
) -> None:
    """`counted` wraps the view (wiring.counts_errors: a failure is counted, then answered 500)."""
    from chalice import Response

    @app.route(PATH, methods=["POST"], content_types=[FORM_TYPE])
    @counted
    def subscribe() -> Any:
        from html import escape as e  # here: app.py's other functions skip it

        outcome = subscriptions().handle(app.current_request.raw_body, time.time())
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Subscription</title>'
            '<meta name="viewport" content="width=device-width,initial-scale=1"></head>'
            f"<body><main><h1>Subscription</h1><p>{e(outcome.message)}</p></main></body></html>"
        )
        headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
        return Response(body=page, status_code=outcome.status, headers=headers)
