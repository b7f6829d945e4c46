"""The pages in a real browser: Debian's Chromium, driven by Playwright, against 127.0.0.1 servers.

The status site and the app are separate servers (two origins, the app answering with CORS),
as an S3 website and the app are in production.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
import time
from collections.abc import Iterator

import pytest

from chalicelib.statuspage.maintenance_page import render_maintenance
from chalicelib.statuspage.render import render_index
from tests.statuspage.page_server import PageServer
from tests.statuspage.samples import PAYLOAD, maintenance_config, status

pytestmark = pytest.mark.browser
FAST = {"poll_ms": 250, "jitter_ms": 50, "timeout_ms": 1000}


@pytest.fixture
def servers() -> Iterator[tuple[PageServer, PageServer]]:
    site, app = PageServer(), PageServer(cors=True)
    app.set("/", 200, "<!doctype html><title>The app</title><p>app</p>", "text/html")
    yield site, app
    site.stop()
    app.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()


def healthy_status(active_maintenance: bool = False) -> dict:
    document = status()
    document["healthy"] = False
    if active_maintenance:
        document["maintenance"]["active"] = [
            {"message": "Database upgrade", "start": "2025-06-15T15:00:00Z", "end": "2025-06-15T16:00:00Z"}
            | {"ended": None, "components": []}
        ]
    return document


def publish_maintenance(site: PageServer, app: PageServer, document: dict, **timing) -> None:
    html = render_maintenance(document, maintenance_config(app_url=app.url("/")), **(timing or FAST))
    site.set("/maintenance.html", 200, html, "text/html; charset=utf-8")


def wait_for_hits(server: PageServer, path: str, more: int, timeout: float = 10.0) -> None:
    goal = server.hits.get(path, 0) + more
    ends = time.monotonic() + timeout
    while server.hits.get(path, 0) < goal:
        assert time.monotonic() < ends, f"{path} was polled {server.hits.get(path, 0)} times, expected {goal}"
        time.sleep(0.05)


BACK_ON_APP = re.compile(r"http://127\.0\.0\.1:\d+/\?v=\d{13}$")


def test_maintenance_page_returns_only_once_every_health_endpoint_answers(servers, page, artifacts):
    site, app = servers
    site.set("/status.json", 200, json.dumps(healthy_status()), "application/json")
    publish_maintenance(site, app, healthy_status())
    app.set("/healthz", 200, "ok")
    app.set("/api/healthz", 503, "starting")
    page.goto(site.url("/maintenance.html"))
    page.screenshot(path=artifacts / "maintenance.png", full_page=True)
    wait_for_hits(app, "/api/healthz", 4)
    wait_for_hits(site, "/status.json", 1)
    assert page.url == site.url("/maintenance.html")  # one endpoint still failing: the user stays
    assert "Database" not in page.inner_text("#message")
    assert "API: down" in page.inner_text("#down")
    app.set("/api/healthz", 200, "ok")
    page.wait_for_url(BACK_ON_APP, timeout=5000)
    assert page.url.startswith(app.url("/?v=")) and page.title() == "The app"


def test_time_from_health_endpoints_answering_to_the_user_back_on_the_app(servers, page):
    """With the shipped timing: every 5 s plus up to 1 s of jitter."""
    site, app = servers
    site.set("/status.json", 200, json.dumps(healthy_status()), "application/json")
    publish_maintenance(site, app, healthy_status(), poll_ms=5000, jitter_ms=1000, timeout_ms=4000)
    app.set("/healthz", 503, "down")
    app.set("/api/healthz", 503, "down")
    page.goto(site.url("/maintenance.html"))
    wait_for_hits(app, "/api/healthz", 1)
    time.sleep(0.5)
    app.set("/healthz", 200, "ok")
    app.set("/api/healthz", 200, "ok")
    answered = time.monotonic()
    page.wait_for_url(BACK_ON_APP, timeout=8000)
    seconds = time.monotonic() - answered
    print(
        f"\nboth health endpoints answering -> user back on the app: {seconds:.2f} s"
        " (poll 5 s + jitter <= 1 s)"
    )
    assert seconds <= 6.5


def test_maintenance_page_survives_status_json_404_and_500(servers, page):
    site, app = servers
    publish_maintenance(site, app, healthy_status())
    app.set("/healthz", 503, "down")
    app.set("/api/healthz", 503, "down")
    page.goto(site.url("/maintenance.html"))  # status.json: 404
    wait_for_hits(site, "/status.json", 3)
    assert "briefly unavailable" in page.inner_text("#note")
    site.set("/status.json", 500, "internal error")
    wait_for_hits(site, "/status.json", 3)
    assert page.url == site.url("/maintenance.html")
    checked = page.inner_text("#checked")
    assert re.match(r"\d{4}-\d\d-\d\dT", checked)  # still polling
    site.set("/status.json", 200, json.dumps(healthy_status()), "application/json")
    wait_for_hits(site, "/status.json", 2)
    assert page.inner_text("#note") == ""
    site.set("/status.json", 500, "internal error")
    app.set("/healthz", 200, "ok")
    app.set("/api/healthz", 200, "ok")
    page.wait_for_url(BACK_ON_APP, timeout=5000)  # the health endpoints decide


def test_an_announced_maintenance_keeps_users_on_the_page(servers, page):
    site, app = servers
    site.set("/status.json", 200, json.dumps(healthy_status(active_maintenance=True)), "application/json")
    publish_maintenance(site, app, healthy_status(active_maintenance=True))
    app.set("/healthz", 200, "ok")
    app.set("/api/healthz", 200, "ok")
    page.goto(site.url("/maintenance.html"))
    wait_for_hits(app, "/api/healthz", 4)
    assert page.url == site.url("/maintenance.html")
    assert page.inner_text("#message") == "Database upgrade"
    site.set("/status.json", 200, json.dumps(healthy_status()), "application/json")
    page.wait_for_url(BACK_ON_APP, timeout=5000)


def test_without_cors_the_page_stays(browser, servers):
    site, app = servers
    app.cors = False
    site.set("/status.json", 200, json.dumps(healthy_status()), "application/json")
    publish_maintenance(site, app, healthy_status())
    app.set("/healthz", 200, "ok")
    app.set("/api/healthz", 200, "ok")
    context = browser.new_context()
    page = context.new_page()
    page.goto(site.url("/maintenance.html"))
    wait_for_hits(app, "/api/healthz", 3)
    assert page.url == site.url("/maintenance.html")
    context.close()


def test_status_page_renders_components_bars_and_chart_from_90_days(servers, page, artifacts):
    site, _ = servers
    document = status()
    html = render_index(document)
    site.set("/index.html", 200, html, "text/html; charset=utf-8")
    site.set("/status.json", 200, json.dumps(document), "application/json")
    sizes: list[int] = []
    page.on("requestfinished", lambda request: sizes.append(sum(request.sizes().values())))
    page.goto(site.url("/index.html"))
    page.wait_for_load_state("networkidle")
    transferred = sum(sizes)
    print(
        f"\nstatus page first view: {len(sizes)} request(s), {transferred} bytes transferred "
        f"(index.html {len(html.encode())} bytes, {len(gzip.compress(html.encode()))} gzipped)"
    )
    assert len(sizes) == 1 and transferred <= 50 * 1024
    components = page.locator("article.card")
    assert components.count() == 2
    assert page.locator("article.card h3 span").first.inner_text() == "Website"
    assert "Down" in page.locator("article.card").nth(1).locator(".state").inner_text()
    for i in range(2):
        bars = components.nth(i).locator("ol.bars i")
        assert bars.count() == 90
        assert components.nth(i).locator("svg.chart path").count() == 2
    days = page.locator("article.card").first.locator("ol.bars li .vh").all_text_contents()
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d: no data", d) for d in days)
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d: \d+\.\d\d% up, \d+ min down \(.+\)", d) for d in days)
    written = sum(len(re.findall(r"\d{4}-\d\d-\d\d", d)) for d in days)
    assert written <= 90  # each day's figures written once (a run of alike days once for all)
    assert page.locator("text=Scheduled maintenance").count() == 1
    page.screenshot(path=artifacts / "status.png", full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # readable on a phone
    page.screenshot(path=artifacts / "status-phone.png", full_page=True)
    print(f"screenshots: {artifacts}")


def test_with_javascript_off_the_state_is_still_shown(browser, servers):
    site, _ = servers
    site.set("/index.html", 200, render_index(status()), "text/html; charset=utf-8")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site.url("/index.html"))
    states = page.locator(".state").all_inner_texts()
    assert "\u2713 Operational" in states and "\u2715 Down" in states
    assert page.locator("ol.bars i").count() == 180
    context.close()


def test_script_payloads_in_names_and_messages_do_not_run(servers, page):
    site, app = servers
    hostile = status(hostile=True)
    active = copy.deepcopy(hostile["maintenance"]["scheduled"][0])
    hostile["maintenance"]["active"] = [active]  # its message is a </script> payload
    site.set("/index.html", 200, render_index(hostile), "text/html; charset=utf-8")
    site.set("/status.json", 200, json.dumps(hostile), "application/json")
    publish_maintenance(site, app, hostile)
    app.set("/healthz", 503, "down")
    app.set("/api/healthz", 503, "down")
    for path in ("/index.html", "/maintenance.html"):
        page.goto(site.url(path))
        wait_for_hits(site, "/status.json", 1 if path == "/maintenance.html" else 0)
        page.wait_for_timeout(300)  # an injected onerror would have fired by now
        assert page.evaluate("window.__pwned") is None
        assert page.locator("img").count() == 0
        assert PAYLOAD in page.inner_text("body")
    assert page.dialogs == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_reports_no_violation(servers, browser, scheme):
    from axe_playwright_python.sync_playwright import Axe

    site, app = servers
    document = status()
    site.set("/index.html", 200, render_index(document), "text/html; charset=utf-8")
    site.set("/status.json", 200, json.dumps(document), "application/json")
    publish_maintenance(site, app, healthy_status(active_maintenance=True))
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    counts = {}
    for path in ("/index.html", "/maintenance.html"):
        page.goto(site.url(path))
        results = Axe().run(page)
        counts[path] = (results.violations_count, len(results.response["passes"]))
        assert results.violations_count == 0, results.generate_report()
    print(
        f"\naxe ({scheme}): "
        + ", ".join(f"{p}: {v} violations, {n} rules passed" for p, (v, n) in counts.items())
    )
    context.close()
