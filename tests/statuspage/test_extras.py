"""Incidents and deployments on the status site: public words only, read cheaply per publish."""

from __future__ import annotations

import gzip
import json
from types import SimpleNamespace

from chalicelib import wiring
from chalicelib.aws.clients import client, table
from chalicelib.config import parse_config
from chalicelib.runbooks.incident import OPEN, RESOLVED, Incident, RunPosition
from chalicelib.runbooks.incident_store import IncidentStore
from chalicelib.state.thresholds import DOWN, MonitorState
from chalicelib.statuspage.extras import extras_from, timeline

T0 = 1_750_032_000.0 + 23 * 3600 + 59 * 60  # 2025-06-16T23:59:00Z: the story crosses midnight
MONITORS = """monitors:
  - {name: web, url: 'http://127.0.0.1:9/healthz', component: Website, runbook: restart-web}
  - {name: api, url: 'http://127.0.0.1:9/api/healthz', component: API}
runbooks:
  restart-web:
    targets: {tag: {app: web}}
    steps: [{restart: {service: web, manager: pm2, user: app}}, {verify: {monitors: [web], within: 1m}}]
"""
STORY = [
    "23:59:00 web ALARM: dns: host not found: secret.internal",
    "23:59:30 restart web (pm2) sent to i-0abc1234def567890 (command 7f3e)",
    "00:00:10 command 7f3e: {'i-0abc1234def567890': 'Success'}",
    "00:00:40 verified: web healthy",
    "00:00:41 OK: every signal is OK again",
]


def incident(key: str = "restart-web/*", status: str = OPEN, opened_at: float = T0) -> Incident:
    """Keys as runbooks.grouping makes them: a runbook's, or a component's (no runbook)."""
    found = Incident(key, f"{key} is failing", opened_at, "dns: host not found: secret.internal")
    found.status, found.story = status, list(STORY)
    if key.startswith("restart-web/"):
        found.run = RunPosition("restart-web", ["i-0abc1234def567890"])
    if status == RESOLVED:
        found.resolved_at = opened_at + 101
    return found


def test_the_timeline_keeps_what_autoheal_did_in_public_words_across_midnight():
    entries = timeline(STORY, T0)
    assert [e["text"] for e in entries] == [
        "Problem detected by monitoring",
        "Restart sent",
        "Recovery verified",
        "Recovered",
    ]
    assert [e["at"] - T0 for e in entries] == [0, 30, 100, 101]  # the next day, not the same one
    assert "i-0abc" not in json.dumps(entries) and "secret" not in json.dumps(entries)


def test_open_incidents_merge_past_ones_are_listed_and_only_deployments_in_flight_show():
    config = parse_config(
        "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}\n" + MONITORS
    )
    moving = SimpleNamespace(name="web", state="shifting", percent=10, in_flight=True)
    done = SimpleNamespace(name="old", state="promoted", percent=100, in_flight=False)
    old = incident("restart-web/*", RESOLVED, T0 - 100 * 86400)  # past the 90 days shown
    extras = extras_from(
        config,
        [incident(), incident("component/API"), incident("restart-web/*", RESOLVED, T0 - 3600), old],
        [moving, done],
        T0,
    )
    assert extras["incident"]["title"] == "API, Website disrupted"
    assert extras["incident"]["components"] == ["API", "Website"]
    assert [i["components"] for i in extras["incidents"]] == [["Website"]]
    assert extras["deployments"] == [
        {"name": "web", "state": "shifting", "detail": "10% of traffic on the new version"}
    ]


def stored(key: str) -> bytes:
    """An object of the site as a browser gets it: stored gzip-encoded, inflated on the way in."""
    answer = client("s3").get_object(Bucket="autoheal-status", Key=key)
    assert answer["ContentEncoding"] == "gzip"
    return gzip.decompress(answer["Body"].read())


def test_the_published_status_shows_the_incident_with_one_query(deploy):
    deploy(MONITORS)
    IncidentStore("autoheal-state").save(incident())
    calls: list[str] = []
    events = table("autoheal-state").meta.client.meta.events
    events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    wiring.status_site().publish({"web": MonitorState(DOWN, 1, 0, T0, "dns")}, {}, T0 + 120)
    document = json.loads(stored("status.json"))
    assert document["incident"]["title"] == "Website disrupted"
    assert [e["text"] for e in document["incident"]["timeline"]][:2] == [
        "Problem detected by monitoring",
        "Restart sent",
    ]
    assert "i-0abc" not in json.dumps(document) and "7f3e" not in json.dumps(document)
    page = stored("index.html").decode()
    assert "Website disrupted" in page and "Restart sent" in page
    # history (first publish of a cold container), incidents: one Query each; no Scan.
    assert calls.count("Query") == 2 and "Scan" not in calls, calls
