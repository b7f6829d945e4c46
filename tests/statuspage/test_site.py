"""The status site in the probe cycle: records every cycle, writes only when something changed."""

from __future__ import annotations

import gzip
import json
import time

from chalicelib import wiring
from chalicelib.aws.clients import client
from chalicelib.probe.result import ProbeResult
from chalicelib.state.thresholds import DOWN, UP, MonitorState
from chalicelib.statuspage.history_store import HistoryStore
from chalicelib.statuspage.site import FLUSH_EVERY, StatusSite

T0 = 1_750_032_000.0  # 2025-06-16T00:00:00Z
MONITORS = """monitors:
  - {name: web, url: 'http://127.0.0.1:9/healthz', component: Website}
"""


def result(ok: bool, at: float) -> dict[str, ProbeResult]:
    reason = None if ok else "dns: host not found: secret.internal"
    return {"web": ProbeResult("web", ok, 80.0 if ok else None, reason, 1, at)}


def status_json() -> tuple[dict, str]:
    answer = client("s3").get_object(Bucket="autoheal-status", Key="status.json")
    return json.loads(gzip.decompress(answer["Body"].read())), answer["CacheControl"]


def test_writes_in_the_cycle_the_state_changes_and_hourly_otherwise(deploy):
    deploy(MONITORS)
    site = StatusSite(wiring.config())
    up = {"web": MonitorState(UP, since=T0)}
    assert site.cycle(up, result(True, T0), T0)  # a cold container publishes once
    assert all(not site.cycle(up, result(True, T0 + m * 60), T0 + m * 60) for m in range(1, 30))
    document, cache = status_json()
    assert cache == "no-store" and document["components"][0]["status"] == "UP"

    down = {"web": MonitorState(DOWN, since=T0 + 1800, reason="dns: host not found: secret.internal")}
    started = time.perf_counter()
    assert site.cycle(down, result(False, T0 + 1800), T0 + 1800)
    elapsed_ms = (time.perf_counter() - started) * 1000
    print(
        f"\nstate change to updated status.json (flush + render + 4 objects, local AWS): {elapsed_ms:.0f} ms"
    )
    document, _ = status_json()
    web = document["components"][0]
    assert (
        web["status"] == "DOWN" and web["reason"] == "dns" and "secret.internal" not in json.dumps(document)
    )
    today = web["days"][-1]
    assert (today["up"], today["down"]) == (30, 0)  # the minute of the change is still open

    stored = HistoryStore("autoheal-state").load("2025-06-16", "2025-06-16")["2025-06-16"]["web"]
    assert stored.up == 30 and stored.hours[0] == [30, 0, 0]
    later = T0 + 1800 + FLUSH_EVERY
    assert not site.cycle(down, result(False, later - 60), later - 60)
    assert site.cycle(down, result(False, later), later)  # the hourly refresh
    stored = HistoryStore("autoheal-state").load("2025-06-16", "2025-06-16")["2025-06-16"]["web"]
    assert stored.down == 2 and stored.reasons == {"dns": 2}
    # Minutes the probe did not run stay unknown: never counted as up.
    document, _ = status_json()
    assert document["components"][0]["days"][-1]["unknown"] == 90 - 32


def test_a_new_container_continues_from_the_stored_days(deploy):
    deploy(MONITORS)
    up = {"web": MonitorState(UP, since=T0)}
    first = StatusSite(wiring.config())
    for m in range(5):
        first.cycle(up, result(True, T0 + m * 60), T0 + m * 60)
    first.cycle({"web": MonitorState(DOWN, since=T0 + 300)}, result(False, T0 + 300), T0 + 300)
    second = StatusSite(wiring.config())
    second.cycle({"web": MonitorState(DOWN, since=T0 + 300)}, result(False, T0 + 360), T0 + 360)
    document, _ = status_json()
    assert document["components"][0]["days"][-1]["up"] == 5


def test_badges_are_published_gzipped_and_written_again_only_when_they_change(deploy):
    deploy(MONITORS)
    site = StatusSite(wiring.config())
    puts: list[str] = []
    events = client("s3").meta.events
    events.register("provide-client-params.s3.PutObject", lambda params, **_: puts.append(params["Key"]))
    up = {"web": MonitorState(UP, since=T0)}
    site.publish(up, result(True, T0), T0)
    badge = client("s3").get_object(Bucket="autoheal-status", Key="badges/website.svg")
    assert (badge["ContentType"], badge["ContentEncoding"]) == ("image/svg+xml", "gzip")
    assert b"uptime 30d" in gzip.decompress(badge["Body"].read())
    site.publish(up, result(True, T0 + 60), T0 + 60)  # the same uptime: the same badge
    assert puts.count("badges/website.svg") == 1 and puts.count("index.html") == 2
