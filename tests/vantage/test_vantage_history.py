"""The note a blind region's failure leaves reaches the status history as one line, and tells
the home site to publish it."""

from __future__ import annotations

import gzip
import re
import time

from chalicelib import wiring
from chalicelib.aws.clients import client
from chalicelib.statuspage.publish_gate import PublishGate
from tests.vantage.test_vantage_world import all_see_it_up, vantage  # noqa: F401 - a fixture


def page(bucket: str, key: str) -> str:
    data = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return re.sub(r"<[^>]+>", "", (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode())


def test_a_blind_regions_note_is_a_line_of_the_history_not_an_incident(vantage) -> None:  # noqa: F811
    v = vantage()
    all_see_it_up(v)
    wiring.site_republisher()(time.time())  # published: nothing pending
    assert not PublishGate(v.world.config.settings.state_table).pending()
    v.regions["eu-west-1"].app.mode = "hang"
    v.tick("eu-west-1")
    assert v.alarms() == [] and len(v.votes.notes("web")) == 1
    assert PublishGate(v.world.config.settings.state_table).pending()  # the line is new
    wiring.site_republisher()(time.time())
    bucket = v.world.config.settings.status_bucket
    history = page(bucket, "history.html")
    assert "eu-west-1 alone saw 1 monitor failing at " in history
    assert "ap-northeast-2 and us-east-1 saw it healthy" in history
    assert "No incidents." in history
    assert "alone saw" not in page(bucket, "index.html")
