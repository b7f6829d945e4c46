"""Incidents on the site within seconds, through the deployed on_alarm, read by Chromium from the
bucket's website endpoint; and publishes coalesced to one per second across containers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice.local import LambdaContext

from chalicelib import wiring
from chalicelib.aws.clients import client
from chalicelib.statuspage.publish_gate import PublishGate
from chalicelib.statuspage.refresh import SiteRefresher
from sandbox.s3_website import S3Website

pytestmark = pytest.mark.browser
EVENTS = Path(__file__).resolve().parents[2] / "events"
MONITORS = """monitors:
  - {name: web, url: 'http://127.0.0.1:9/healthz', component: Website}
  - {name: api, url: 'http://127.0.0.1:9/api/healthz', component: API}
"""


def probe_alarm(state: str, message_id: str, at: str) -> dict:
    """events/alarm-probe-{down,up}.json for monitor `web` (no runbook: a component incident)."""
    name = "alarm-probe-down" if state == "ALARM" else "alarm-probe-up"
    event = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    sns = event["Records"][0]["Sns"]
    body = json.loads(sns["Message"])
    body["StateChangeTime"] = at
    sns["Message"], sns["MessageId"] = json.dumps(body), message_id
    return event


@pytest.fixture
def website(deploy) -> Iterator[tuple]:
    deployment = deploy(MONITORS)
    s3 = client("s3")
    s3.put_bucket_website(
        Bucket="autoheal-status", WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
    )
    with S3Website(s3, "autoheal-status") as site:
        yield deployment, site


def on_alarm(deployment, event: dict) -> dict:
    return deployment.app.app.handler_map["on_alarm"](event, LambdaContext("on_alarm", 256, 60_000))


def test_an_incident_is_on_the_site_within_seconds_and_in_history_once_resolved(website, browser):
    deployment, site = website
    context = browser.new_context()
    page = context.new_page()
    opened = time.monotonic()
    on_alarm(deployment, probe_alarm("ALARM", "down-1", "2024-05-01T21:03:04.118+0000"))
    page.goto(site.url + "/")
    shown = time.monotonic() - opened
    print(f"\nincident opened -> on the page (on_alarm + publish + Chromium load): {shown:.2f} s")
    assert shown <= 5
    banner = page.locator("#incident-h")
    assert banner.inner_text().endswith("Website disrupted")
    assert "Affects: Website." in banner.locator("xpath=..").inner_text()

    time.sleep(1.0)  # the next publish second
    on_alarm(deployment, probe_alarm("OK", "up-1", "2024-05-01T21:09:04.118+0000"))
    page.goto(site.url + "/?v=2")  # index.html may be cached for 30 s: as a reader reloading it
    assert page.locator("#incident-h").count() == 0  # no longer "in progress"
    cards = page.locator("article.card")
    website_card = cards.filter(has=page.locator('h3 span:text-is("Website")'))
    assert website_card.locator("a[href^='history.html#']").inner_text() == "Incident history (1)"
    assert "No incidents" in cards.filter(has=page.locator('h3 span:text-is("API")')).inner_text()
    page.goto(site.url + "/history.html")
    [story] = page.locator("article.incident").all()
    assert story.locator("h3").text_content() == "Website disrupted Resolved"
    context.close()


def test_changes_in_one_second_from_two_containers_publish_at_most_once_and_the_last_is_shown(deploy):
    deploy(MONITORS)
    table = wiring.config().settings.state_table
    published: list[float] = []
    lock = threading.Lock()
    versions = {"written": 0}
    seen: list[int] = []

    def publish(now: float) -> None:
        with lock:
            published.append(now)
            seen.append(versions["written"])  # what a publish beginning now reads

    containers = [SiteRefresher(publish, PublishGate(table)) for _ in range(2)]

    def change(refresher: SiteRefresher) -> None:
        for _ in range(5):
            with lock:
                versions["written"] += 1
            refresher.incident_changed()
            time.sleep(0.05)

    threads = [threading.Thread(target=change, args=(r,)) for r in containers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    gaps = [b - a for a, b in zip(published, published[1:], strict=False)]
    print(f"\n10 changes from 2 containers: {len(published)} publishes, gaps {[round(g, 2) for g in gaps]}")
    assert published and all(gap >= 1.0 for gap in gaps)
    assert seen[-1] == 10  # the last change is on the site


def test_the_website_hands_the_stored_gzip_and_chromium_renders_it(website, browser):
    """What crosses the wire is the compressed page: the bucket stores it gzip-encoded and the
    website endpoint passes the bytes and the header through."""
    wiring.site_refresher().publish(time.time())
    stored = client("s3").get_object(Bucket="autoheal-status", Key="index.html")
    assert (stored["ContentEncoding"], stored["ContentType"]) == ("gzip", "text/html; charset=utf-8")
    _, site = website
    context = browser.new_context()
    page = context.new_page()
    answers = []
    page.on("response", lambda r: answers.append((r.url, r.headers.get("content-encoding"))))
    page.goto(site.url + "/")
    assert answers[0] == (site.url + "/", "gzip")
    assert page.locator("article.card").count() == 2 and page.title() == "Service status"
    assert page.evaluate("fetch('status.json').then(r => r.json()).then(s => s.components.length)") == 2
    context.close()


def test_a_step_in_a_taken_second_never_waits_and_the_probes_next_cycle_publishes_it(deploy):
    from chalicelib.probe.result import ProbeResult
    from chalicelib.state.thresholds import UP, MonitorState
    from chalicelib.statuspage.site import StatusSite

    deploy(MONITORS)
    table = wiring.config().settings.state_table
    published: list[float] = []
    gate = PublishGate(table)
    refresher = SiteRefresher(published.append, gate)
    assert refresher.incident_changed()  # the opening: published at once
    started = time.monotonic()
    assert not refresher.incident_changed(urgent=False)  # "Restart sent" in the same second
    assert time.monotonic() - started < 0.5 and len(published) == 1 and gate.pending()
    probe_site = StatusSite(wiring.config(), gate=gate)
    now = time.time()
    up = {"web": MonitorState(UP, since=now), "api": MonitorState(UP, since=now)}
    results = {n: ProbeResult(n, True, 50.0, None, 1, now) for n in up}
    assert probe_site.cycle(up, results, now)  # publishes (a cold container would anyway)
    assert not gate.pending()
    assert not probe_site.cycle(up, results, now + 60)  # nothing changed, nothing pending: no publish
    time.sleep(1.0)
    assert refresher.incident_changed()  # the next second is free again
    assert not refresher.incident_changed(urgent=False) and gate.pending()
    assert probe_site.cycle(up, results, now + 120)  # within a minute: the probe publishes it
    assert not gate.pending()
