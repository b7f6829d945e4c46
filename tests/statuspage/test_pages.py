"""The pages as people meet them, in Chromium: grouped components, history.html, times, badges,
the maintenance page; and screenshots of each (light, dark, phone) kept in screenshots/."""

from __future__ import annotations

import json
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.statuspage.badges import render_badges
from chalicelib.statuspage.history_page import render_history
from chalicelib.statuspage.maintenance_page import render_maintenance
from chalicelib.statuspage.render import render_index
from tests.statuspage.page_server import PageServer
from tests.statuspage.samples import NOW, maintenance_config, page_status

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).parent / "screenshots"
VIEWS = {
    "light": {"viewport": {"width": 1000, "height": 900}, "color_scheme": "light"},
    "dark": {"viewport": {"width": 1000, "height": 900}, "color_scheme": "dark"},
    "phone": {"viewport": {"width": 360, "height": 740}, "color_scheme": "light", "is_mobile": True},
}


@pytest.fixture
def site() -> Iterator[PageServer]:
    server = PageServer(cors=True)
    publish(server, page_status())
    yield server
    server.stop()


def publish(server: PageServer, status: dict) -> None:
    html = "text/html; charset=utf-8"
    server.set("/index.html", 200, render_index(status, subscribe_url=server.url("/subscribe")), html)
    server.set("/history.html", 200, render_history(status), html)
    server.set(
        "/maintenance.html", 200, render_maintenance(status, maintenance_config(server.url("/"))), html
    )
    server.set("/status.json", 200, json.dumps(status), "application/json")
    server.set("/healthz", 503, "down")
    server.set("/api/healthz", 503, "down")


def test_groups_collapse_without_javascript_and_open_while_a_member_is_not_operational(browser, site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site.url("/index.html"))
    groups = page.locator("details.group")
    assert groups.locator("summary .gname").all_inner_texts() == ["Frontend", "Backend"]
    frontend, backend = groups.nth(0), groups.nth(1)
    assert (
        frontend.get_attribute("open") is None and "Operational" in frontend.locator("summary").inner_text()
    )
    assert backend.get_attribute("open") == "" and "Down" in backend.locator("summary").inner_text()
    assert not frontend.locator("article.card").first.is_visible()
    frontend.locator("summary").click()  # <details>: no script needed
    assert frontend.locator("article.card").all_inner_texts()[0].startswith("Website")
    assert page.locator("main > section > article.card h3 > span:first-child").all_inner_texts() == [
        "Docs"
    ]  # no group
    banner = page.locator("#overall")
    assert banner.inner_text() == "Some systems are affected" and "s-DOWN" in banner.get_attribute("class")
    assert page.locator("time").first.inner_text().endswith(" UTC")  # without JS: UTC
    context.close()


def test_history_lists_each_incident_dated_with_what_autoheal_did(browser, site):
    context = browser.new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.goto(site.url("/history.html"))
    incidents = page.locator("article.incident")
    assert incidents.locator("h3").all_text_contents() == [
        "API disrupted Ongoing",
        "Website disrupted Auto-healed",
        "Jobs disrupted Engineers alerted",
    ]
    healed = incidents.nth(1)
    assert "(3 min)" in healed.locator("p").inner_text() and "Affects: Website." in healed.inner_text()
    assert healed.locator("ol.timeline li").count() == 4
    first = healed.locator("time").first
    assert first.get_attribute("datetime") == "2025-06-12T15:06:40Z"
    assert re.fullmatch(r"Jun 13, 2025, 12:06\sAM \(.+\)", first.inner_text())  # Tokyo time, and how long ago
    assert first.get_attribute("title") == "2025-06-12 15:06 UTC"
    assert "Kernel updates" in page.locator("#maint-h").locator("xpath=..").inner_text()
    page.goto(site.url("/index.html"))
    page.locator("#c-api a").click()
    assert page.url.endswith("/history.html#c-api")
    assert page.locator("#c-api").inner_text().startswith("API: 1 incident(s)")
    context.close()


def test_the_maintenance_page_shows_its_window_and_only_what_it_affects(browser, site):
    context = browser.new_context()
    page = context.new_page()
    page.goto(site.url("/maintenance.html"))
    page.wait_for_function("document.getElementById('checked').textContent !== 'not yet'")
    window = page.locator("#window time")
    assert [window.nth(i).get_attribute("datetime") for i in range(2)] == [
        "2025-06-15T14:36:40Z",  # the maintenance's own start
        "2025-06-15T15:36:40Z",  # its expected end
    ]
    assert page.locator("#down li").all_inner_texts()[0].startswith("API: down since")
    assert [t.split(":")[0] for t in page.locator("#down li").all_inner_texts()] == ["API", "Database"]
    publish(site, page_status(maintenance_everywhere=True))
    page.reload()
    page.wait_for_function("document.getElementById('checked').textContent !== 'not yet'")
    summary = page.locator("#down details summary")
    assert summary.inner_text() == "Every component (6)" and not page.locator("#down li").first.is_visible()
    context.close()


def test_every_component_has_an_uptime_badge():
    badges = render_badges(page_status())
    assert sorted(badges) == [
        f"badges/{n}.svg" for n in ("api", "cdn", "database", "docs", "jobs", "website")
    ]
    svg = ET.fromstring(badges["badges/website.svg"])
    ns = {"s": "http://www.w3.org/2000/svg"}
    texts = [t.text for t in svg.findall(".//s:text", ns)]
    assert texts[0] == "uptime 30d" and texts[1].endswith("%")
    assert svg.find("s:title", ns).text.startswith("Website: uptime 30d")


def pixels(png: bytes) -> bytes:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    data, at = b"", 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at : at + 8])
        if kind == b"IDAT":
            data += png[at + 8 : at + 8 + length]
        at += 12 + length
    return zlib.decompress(data)


def nonblank(png: bytes) -> float:
    """The share of pixel bytes that differ from the most common one (0 for a blank page)."""
    found = pixels(png)
    common = Counter(found).most_common(1)[0][1]
    return 1 - common / len(found)


def keep(path: Path, png: bytes) -> None:
    """Write the screenshot unless the kept one shows the same page: the maintenance page's
    "checked" line differs by a few pixels from run to run, and a test run should leave the
    tracked screenshots alone unless a page changed."""
    if path.exists():
        old, new = pixels(path.read_bytes()), pixels(png)
        if old == new or (
            len(old) == len(new) and sum(a != b for a, b in zip(old, new, strict=True)) <= len(new) // 10_000
        ):
            return
    path.write_bytes(png)


@pytest.mark.parametrize("view", list(VIEWS))
def test_screenshots_render_and_axe_finds_nothing(browser, site, view):
    from axe_playwright_python.sync_playwright import Axe

    SHOTS.mkdir(exist_ok=True)
    context = browser.new_context(timezone_id="UTC", locale="en-GB", **VIEWS[view])
    page = context.new_page()
    page.clock.set_fixed_time(NOW + 240)  # read 4 minutes after the update: the same PNGs every run
    for name in ("index", "history", "maintenance"):
        page.goto(site.url(f"/{name}.html"))
        if name == "maintenance":
            page.wait_for_function("document.getElementById('checked').textContent !== 'not yet'")
        path = SHOTS / f"{name}-{view}.png"
        png = page.screenshot(full_page=True)
        assert nonblank(png) > 0.005, f"{path.name} looks blank"
        keep(path, png)
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWS[view]["viewport"]["width"]
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
    context.close()
