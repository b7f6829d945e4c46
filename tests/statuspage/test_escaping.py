"""Text from alarms and config is escaped in every page, the feed and status.json."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from chalicelib.statuspage.feed import render_feed
from chalicelib.statuspage.maintenance_page import render_maintenance
from chalicelib.statuspage.reasons import coarse
from chalicelib.statuspage.render import render_index
from tests.statuspage.samples import PAYLOAD, SCRIPT_PAYLOAD, maintenance_config, status


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


def test_hostile_names_and_messages_stay_text_in_the_status_page():
    page = render_index(status(hostile=True))
    found = parse(page)
    assert "img" not in found.tags
    assert not any(name.startswith("on") for name, _ in found.attrs)
    assert found.tags.count("script") == 2  # the page's own: labels JSON and the refresher
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert SCRIPT_PAYLOAD not in page


def test_the_maintenance_page_escapes_and_embeds_config_as_inert_json():
    document = status(hostile=True)
    document["maintenance"]["active"] = [dict(document["maintenance"]["scheduled"][0])]
    hostile_app = "https://app.example.com/</script><script>alert(1)</script>"
    config = maintenance_config(app_url="https://app.example.com/")
    page = render_maintenance(document, config)
    found = parse(page)
    assert "img" not in found.tags and found.tags.count("script") == 2
    embedded = json.loads(found.scripts[0])
    assert embedded["health"] == ["https://app.example.com/healthz", "https://app.example.com/api/healthz"]
    page = render_maintenance(document, config.__class__(app_url=hostile_app))
    assert "</script><script>alert(1)" not in page
    assert json.loads(parse(page).scripts[0])["app"] == hostile_app


def test_the_feed_is_well_formed_and_keeps_payloads_as_text():
    feed = render_feed(status(hostile=True))
    root = ET.fromstring(feed)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [t.text for t in root.findall("a:entry/a:title", ns)]
    assert any(PAYLOAD in t for t in titles)  # the XML parser decoded it back to text
    assert root.find("a:entry/a:title", ns) is not None and "<img" not in feed


def test_status_json_carries_coarse_reasons_only():
    document = status(hostile=False)
    text = json.dumps(document)
    assert "db.internal" not in text and "127.0.0.1" not in text and "healthz" not in text
    api = next(c for c in document["components"] if c["name"] == "API")
    assert api["status"] == "DOWN" and api["reason"] == "dns"


def test_coarse_reasons():
    assert coarse("timeout after 5s") == "timeout"
    assert coarse("status 503, expected 2xx") == "status 503"
    assert coarse("tls: certificate verify failed: hostname mismatch for secret.internal") == "certificate"
    assert coarse("connection refused") == "refused"
    assert coarse('json status: "degraded" != "ok"') == "unexpected body"
    assert coarse(None) is None
