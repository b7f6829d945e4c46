"""One region's blip on the status history: one line per window and region, however many
monitors it saw failing; never an incident, never on the front page."""

from __future__ import annotations

import gzip
import re
import time

from chalicelib import wiring
from chalicelib.aws.clients import client
from chalicelib.statuspage.publish_gate import PublishGate
from chalicelib.vantage.quorum import window_of
from chalicelib.vantage.votes import VoteStore

CONFIG = """  vantage_points: [us-east-1, eu-west-1, ap-northeast-2]
  vantage_self_check: 'http://127.0.0.1:9/ok'
monitors:
"""
MONITORS = 1000


def page(key: str) -> str:
    data = client("s3").get_object(Bucket="autoheal-status", Key=key)["Body"].read()
    return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode()


def notes_section(html: str) -> str:
    [section] = re.findall(r'<section aria-labelledby="notes-h">.*?</section>', html, re.DOTALL)
    return section


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_a_thousand_monitor_blind_window_is_one_line_of_the_history(deploy) -> None:
    lines = [f"  - {{name: m{i}, url: 'http://127.0.0.1:9/m{i}'}}" for i in range(MONITORS)]
    deploy(CONFIG + "\n".join(lines) + "\n")
    votes = VoteStore("autoheal-state", "us-east-1")
    at = time.time() - 120
    window = window_of(at, 60)
    evidence = "eu-west-1: DOWN, timeout after 5s; ap-northeast-2: UP; us-east-1: UP"
    for i in range(MONITORS):
        votes.note(f"m{i}", window, at + i / 1000, evidence, ["eu-west-1"], ["ap-northeast-2", "us-east-1"])
    votes.note("m7", window + 3, at + 180, evidence, ["ap-northeast-2"], ["us-east-1"])  # another region
    assert PublishGate("autoheal-state").pending()  # the home probe publishes within a minute
    wiring.site_republisher()(time.time())
    history = text_of(notes_section(page("history.html")))
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))
    assert history.count("alone saw") == 2
    healthy = "ap-northeast-2 and us-east-1 saw them healthy"
    assert f"eu-west-1 alone saw {MONITORS} monitors failing at {stamp}; {healthy}" in history
    assert (
        "ap-northeast-2 alone saw 1 monitor failing at" in history and "us-east-1 saw it healthy" in history
    )
    assert "m7" not in history and "m999" not in history  # counted, never listed
    assert "No incidents." in page("history.html")
    index = page("index.html")
    assert "alone saw" not in index and "vantage point" not in index


def test_without_notes_the_history_has_no_notes_section(deploy) -> None:
    deploy(CONFIG + "  - {name: web, url: 'http://127.0.0.1:9/web'}\n")
    wiring.site_republisher()(time.time())
    assert "Seen from one vantage point" not in page("history.html")


def test_notes_out_of_reach_leave_the_site_published_without_them(deploy) -> None:
    """The home region's table unreadable from here (its region has none): no notes, a site all the same."""
    away = CONFIG.replace("[us-east-1, eu-west-1, ap-northeast-2]", "[eu-west-1, us-east-1]")
    deploy(away + "  - {name: web, url: 'http://127.0.0.1:9/web'}\n")
    before = time.time()
    wiring.site_republisher()(time.time())
    stored = client("s3").head_object(Bucket="autoheal-status", Key="history.html")["LastModified"]
    assert stored.timestamp() >= int(before)
    assert "Seen from one vantage point" not in page("history.html")
