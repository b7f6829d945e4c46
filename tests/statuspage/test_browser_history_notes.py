"""The history's notes in Chromium: one line per window and region, its time in the reader's
zone, and no accessibility violation (axe), light and dark."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from chalicelib.statuspage.document import note_entry
from chalicelib.statuspage.history_page import render_history
from tests.statuspage.page_server import PageServer
from tests.statuspage.samples import NOW, page_status

pytestmark = pytest.mark.browser


@pytest.fixture
def site() -> Iterator[PageServer]:
    status = page_status()
    status["notes"] = [
        note_entry(
            {
                "at": NOW - 7200,
                "failing": ["eu-west-1"],
                "healthy": ["ap-northeast-2", "us-east-1"],
                "monitors": 1000,
            }
        ),
        note_entry(
            {"at": NOW - 86400, "failing": ["ap-northeast-2"], "healthy": ["us-east-1"], "monitors": 1}
        ),
    ]
    server = PageServer()
    server.set("/history.html", 200, render_history(status), "text/html; charset=utf-8")
    yield server
    server.stop()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_notes_read_as_one_line_each_and_pass_axe(browser, site, scheme) -> None:
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(color_scheme=scheme, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.goto(site.url("/history.html"))
    section = page.locator("#notes-h").locator("xpath=..")
    lines = section.locator("li").all_inner_texts()
    assert len(lines) == 2
    assert lines[0].startswith("eu-west-1 alone saw 1000 monitors failing at ")
    assert lines[0].endswith("; ap-northeast-2 and us-east-1 saw them healthy")
    assert re.search(
        r"failing at Jun 15, 2025, 10:06\sPM \(", lines[0]
    )  # Tokyo time, as every time on the page
    assert lines[1].startswith("ap-northeast-2 alone saw 1 monitor failing at ")
    assert page.locator("article.incident").count() == 3  # the sample's incidents, no more
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    context.close()
