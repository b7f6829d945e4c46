"""Asking the other regions to confirm at once, and the request they receive.

The first region to see a change asks every region that has not voted yet in the window: one
asynchronous Invoke of that region's probe function each, all in parallel, carrying the monitor
names and the window. The invoked probe checks just those monitors, once, and votes in the
asker's window; it asks nobody itself. A region that cannot be asked is reported by name, and
its silence shows as "no answer" in the evidence: never taken for UP.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from chalicelib.vantage import regional

REQUEST_KEY = "vantage_confirm"
DETAIL_TYPE = "autoheal vantage confirmation"
DEFAULT_FUNCTION = "probe"  # outside Lambda (the local world's Invoke API knows the Chalice name)


@dataclass(frozen=True)
class ConfirmRequest:
    window: int
    monitors: tuple[str, ...]
    asked_by: str
    since: float = 0.0  # the round's start (the asker's vote): older votes do not answer it

    def payload(self) -> bytes:
        """Shaped as an EventBridge event: the probe is a scheduled function, and Chalice reads
        every key of one before the handler runs."""
        body = {"window": self.window, "monitors": list(self.monitors), "asked_by": self.asked_by}
        body["since"] = self.since
        event = {"version": "0", "id": f"{self.asked_by}-{self.window}", "detail-type": DETAIL_TYPE}
        event |= {"source": "autoheal.vantage", "account": "", "time": "", "region": self.asked_by}
        event |= {"resources": [], "detail": {REQUEST_KEY: body}}
        return json.dumps(event).encode()


def request_of(event: Any) -> Optional[ConfirmRequest]:
    """The confirmation request in a probe invocation's event (its dict), None for a tick."""
    detail = event.get("detail") if isinstance(event, Mapping) else None
    if not isinstance(detail, Mapping) or not isinstance(detail.get(REQUEST_KEY), Mapping):
        return None
    body = detail[REQUEST_KEY]
    monitors = body.get("monitors")
    if not isinstance(monitors, list) or not isinstance(body.get("window"), int):
        return None
    since = body.get("since", 0.0)
    since = float(since) if isinstance(since, (int, float)) and not isinstance(since, bool) else 0.0
    return ConfirmRequest(
        body["window"], tuple(str(m) for m in monitors), str(body.get("asked_by", "")), since
    )


class LambdaAsker:
    """Asks through Lambda's Invoke API (InvocationType Event: Lambda queues it and retries)."""

    def __init__(self, function_name: Optional[str] = None) -> None:
        self.function_name = function_name or probe_function(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))

    def ask(self, regions: Sequence[str], request: ConfirmRequest) -> dict[str, Optional[str]]:
        """Region -> None when Lambda took the request, else why not; every region at once."""
        if not regions:
            return {}
        with ThreadPoolExecutor(max_workers=len(regions)) as pool:
            answers = pool.map(lambda region: self.ask_one(region, request), regions)
            return dict(zip(regions, answers, strict=True))

    def ask_one(self, region: str, request: ConfirmRequest) -> Optional[str]:
        try:
            regional.client("lambda", region).invoke(
                FunctionName=self.function_name, InvocationType="Event", Payload=request.payload()
            )
        except Exception as exc:  # noqa: BLE001 - reported by region; the others still decide
            return f"{type(exc).__name__}: {exc}"
        return None


def probe_function(running: Optional[str]) -> str:
    """The function a confirmation goes to: the `probe` of each region (the one that takes the
    request), also when `probe_worker` asks (Chalice names both <app>-<stage>-<function>).

    >>> probe_function("autoheal-prod-probe_worker"), probe_function("autoheal-prod-probe")
    ('autoheal-prod-probe', 'autoheal-prod-probe')
    """
    name = running or DEFAULT_FUNCTION
    return name.removesuffix("_worker") if name.endswith("probe_worker") else name
