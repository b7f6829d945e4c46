"""index.html stays small on the wire with 50 monitors and a busy quarter of history."""

from __future__ import annotations

from chalicelib.statuspage.publish import encoded
from chalicelib.statuspage.render import render_index
from tests.statuspage.samples import fleet_status

LIMIT = 50 * 1024


def test_index_html_of_50_monitors_with_90_busy_days_is_at_most_50_kb_gzipped():
    document = fleet_status("busy")
    page = render_index(document).encode()
    assert len(document["components"]) == 50 and all(len(c["days"]) == 90 for c in document["components"])
    assert sum(d["down"] > 0 for c in document["components"] for d in c["days"]) > 1500  # busy indeed
    assert len(encoded(page)) <= LIMIT, f"{len(encoded(page))} bytes gzipped"
