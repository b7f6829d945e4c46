"""What a person saw wrong on the status site, each checked where they saw it: in Chromium.

Each page is built through the real pipeline (stored incidents -> extras -> status.json ->
pages) and served by a 127.0.0.1 server; the feed is read as a feed reader reads it.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from chalicelib.config import parse_config
from chalicelib.runbooks.incident import OPEN, RESOLVED, Incident
from chalicelib.state.thresholds import DOWN, UP, MonitorState
from chalicelib.statuspage.document import Extras, MaintenanceView, build_status
from chalicelib.statuspage.extras import extras_from
from chalicelib.statuspage.feed import render_feed
from chalicelib.statuspage.maintenance_page import render_maintenance
from chalicelib.statuspage.render import render_index
from tests.statuspage.page_server import PageServer
from tests.statuspage.samples import maintenance_config

pytestmark = pytest.mark.browser
T0 = 1_750_032_000.0  # 2025-06-16T00:00:00Z
CONFIG = parse_config(
    "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}\n"
    "monitors:\n"
    "  - {name: web, url: 'http://127.0.0.1:9/healthz', component: Website}\n"
    "  - {name: api, url: 'http://127.0.0.1:9/api/healthz', component: API}\n"
)
# Control, C1, bidi and zero-width characters: none may reach a reader.
HOSTILE = "Data\x00base\x1b[31m up\x7fgr\x85ade \u202eevil\u202c \u2066x\u2069 z\u200bw"
SHOWN = "Data base [31m up gr ade evil x zw"  # controls become spaces, bidi and zero-width go
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


@pytest.fixture
def site() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def component_incident(status: str = OPEN, opened_at: float = T0 + 600, alarms: int = 1) -> Incident:
    """An outage of `api` (no runbook): the key is its component's, as runbooks.grouping makes it."""
    found = Incident("component/API", "api is failing", opened_at, "status 503", name="api")
    found.signals = ["autoheal-probe-api"]
    found.story = []
    for i in range(alarms):  # the same alarm told again and again, between other public lines
        found.story += [f"00:1{i}:00 api ALARM: status 503", f"00:1{i}:30 verify failed: still 503"]
    if status == RESOLVED:
        found.status, found.resolved_at = RESOLVED, opened_at + 900
        found.story.append("00:25:00 OK: every signal is OK again")
    return found


def document(incidents: list[Incident], states: dict[str, str], now: float = T0 + 1200, **extra) -> dict:
    found = extras_from(CONFIG, incidents, [], now)
    extras = Extras(incident=found["incident"], incidents=found["incidents"], **extra)
    monitor_states = {name: MonitorState(s, since=T0) for name, s in states.items()}
    return build_status(CONFIG.monitors, monitor_states, {}, {}, now, extras)


def show(site: PageServer, page, status: dict, **render) -> None:
    site.set("/index.html", 200, render_index(status, **render), "text/html; charset=utf-8")
    site.set("/status.json", 200, json.dumps(status), "application/json")
    page.goto(site.url("/index.html"))


def test_a_components_incident_names_it_and_shows_only_in_its_card(site, page):
    past = component_incident(RESOLVED, opened_at=T0 - 86400)
    show(site, page, document([component_incident(), past], {"web": UP, "api": DOWN}))
    banner = page.locator("#incident-h").locator("xpath=..")
    assert page.inner_text("#incident-h").endswith("API disrupted")
    assert "Affects: API." in banner.inner_text() and "every component" not in page.inner_text("body")
    cards = {page.locator("article.card").nth(i).get_attribute("data-name"): i for i in range(2)}
    website, api = (page.locator("article.card").nth(cards[n]) for n in ("Website", "API"))
    assert "No incidents in the last 90 days" in website.inner_text()
    assert api.locator("a[href^='history.html#']").inner_text() == "Incident history (2)"  # open and past


def test_a_told_again_alarm_is_one_line_of_the_story(site, page):
    show(site, page, document([component_incident(alarms=5)], {"web": UP, "api": DOWN}))
    steps = page.evaluate(
        "Array.from(document.querySelectorAll('#incident-h ~ ol.timeline li'))"
        ".map(li => li.lastChild.textContent.trim())"
    )
    assert steps == [
        "Problem detected by monitoring",
        "Still failing after the action; trying the next one",
    ]


def test_with_every_component_in_maintenance_the_headline_says_so_and_since_when(site, page):
    began = T0 + 300
    view = MaintenanceView(
        active=({"message": "upgrade", "start": began, "end": T0 + 3600, "components": []},)
    )
    status = document([], {"web": UP, "api": UP}, maintenance=view)  # monitors UP since T0
    show(site, page, status)
    overall = page.locator("#overall")
    assert overall.inner_text() != "All systems operational" and "maintenance" in overall.inner_text().lower()
    assert "s-UP" not in overall.get_attribute("class")
    since = page.locator("article.card").first.locator("p.muted time")
    assert since.get_attribute("datetime") == "2025-06-16T00:05:00Z"  # shown in the reader's time
    site.set("/maintenance.html", 200, render_maintenance(status, maintenance_config()), "text/html")
    page.goto(site.url("/maintenance.html"))
    assert page.locator("#down time").first.get_attribute("datetime") == "2025-06-16T00:05:00Z"


def test_an_open_tab_colours_its_headline_with_its_words(site, page):
    show(site, page, document([], {"web": UP, "api": UP}), refresh_ms=200)
    assert "s-UP" in page.get_attribute("#overall", "class")
    site.set("/status.json", 200, json.dumps(document([], {"web": UP, "api": DOWN})), "application/json")
    page.wait_for_function("document.getElementById('overall').textContent.includes('affected')")
    assert page.get_attribute("#overall", "class").split() == ["banner", "s-DOWN"]


def test_control_and_bidi_characters_reach_no_page_and_no_feed(site, page):
    view = MaintenanceView(
        active=({"message": HOSTILE, "start": T0, "end": T0 + 3600, "components": ["API"]},),
        scheduled=({"message": HOSTILE, "start": T0 + 86400, "end": T0 + 90000, "components": []},),
    )
    status = document([component_incident()], {"web": UP, "api": DOWN}, maintenance=view)
    show(site, page, status)
    seen = {"index.html": page.content()}
    site.set("/maintenance.html", 200, render_maintenance(status, maintenance_config()), "text/html")
    page.goto(site.url("/maintenance.html"))
    seen["maintenance.html"] = page.content()
    seen["feed.xml"] = render_feed(status)
    seen["status.json"] = json.dumps(status, ensure_ascii=False)
    for name, text in seen.items():
        assert SHOWN in text and INVISIBLE.findall(text) == [], name
    assert page.inner_text("#message") == SHOWN
    ET.fromstring(seen["feed.xml"])  # a feed reader takes it


def atom_ids(feed: str) -> list[str]:
    ns = {"a": "http://www.w3.org/2005/Atom"}
    return [e.findtext("a:id", namespaces=ns) for e in ET.fromstring(feed).findall("a:entry", ns)]


def test_atom_ids_are_the_incidents_own_and_stay_across_republishes():
    twins = [component_incident(RESOLVED), component_incident(RESOLVED)]
    twins[1].key = "restart-web/i-0abc"  # another outage, opened in the same second, same title
    twins[1].run = None
    first = atom_ids(render_feed(document(twins, {"web": UP, "api": UP})))
    assert len(first) == 2 and len(set(first)) == 2
    later = atom_ids(render_feed(document(twins, {"web": UP, "api": UP}, now=T0 + 7200)))
    assert later == first
    ongoing = atom_ids(render_feed(document([component_incident()], {"web": UP, "api": DOWN})))
    assert ongoing[0] in first  # the same incident, once resolved, updates its own entry
