"""The two functions through app.py (Chalice's test client), with the project's own notifier."""

from __future__ import annotations

import json
import time
from pathlib import Path

from chalice.test import Client

from tests.deployments.conftest import DEPLOYMENT, build_world

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_shift_traffic_and_advance_through_the_app(deploy) -> None:
    deployment = deploy(
        DEPLOYMENT.replace("EXTRA", "").replace("MORE", "").replace("step_interval: 5m", "step_interval: 1s")
    )
    world = build_world(deployment.app.config, with_table=False)
    world.monitor("UP")
    with Client(deployment.app.app) as chalice:
        start = json.loads((EVENTS / "shift-start-canary.json").read_text())
        start["step_interval"] = "1s"
        answer = chalice.lambda_.invoke("shift_traffic", start).payload
        assert (answer["state"], answer["weights"]) == ("shifting", {"web-blue": 90, "web-green": 10})
        scheduled = json.loads((EVENTS / "advance-scheduled.json").read_text())
        for _ in range(20):
            out = chalice.lambda_.invoke("advance", scheduled).payload
            if out["deployments"] and out["deployments"][0]["state"] == "promoted":
                break
            time.sleep(0.6)
        assert out["failed"] == []
        assert out["deployments"][0]["weights"] == {"web-green": 100, "web-blue": 0}
        bad = chalice.lambda_.invoke(
            "shift_traffic", {"action": "start", "deployment": "web", "to": 3}
        ).payload
        assert bad == {"error": "to: expected 'web-blue' or 'web-green', got 3"}
    sent = [envelope["Message"] for envelope in deployment.drain(deployment.resources.notify_queue_url)]
    # Every move announced on the notify topic, in order.
    assert [m.splitlines()[0] for m in sent] == [
        "web: moved (web-green 10%)",
        "web: moved (web-green 50%)",
        "web: promoted (web-green 100%)",
    ]
