"""The probe asks "under maintenance?" about every DOWN of a cycle from one read of the switch.

Reads are counted as the GetItem requests for the switch's item that the table's real client
sends to the local AWS; the switch is written through the real store.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from chalicelib import wiring
from chalicelib.aws import dynamodb
from chalicelib.aws.clients import table
from chalicelib.maintenance.mode import ManualMaintenance
from chalicelib.maintenance.store import CURRENT, PARTITION, MaintenanceStore
from chalicelib.monitoring.probe_run import ProbeRun
from chalicelib.state.store import StateStore
from tests.conftest import Deployment
from tests.handlers.test_probe_function import monitors_yaml

OUTAGE = ("a", "b", "c", "d", "e", "f")


def switch_reads() -> list[str]:
    """Grows by one entry per request for the switch's item, as it is sent."""
    reads: list[str] = []

    def seen(params: dict, **_: object) -> None:
        key = params.get("Key", {})
        if key.get("pk") in (PARTITION, {"S": PARTITION}) and key.get("sk") in (CURRENT, {"S": CURRENT}):
            reads.append("GetItem")

    table("autoheal-state").meta.client.meta.events.register("provide-client-params.dynamodb.GetItem", seen)
    return reads


def published(deployment: Deployment) -> list[str]:
    return sorted(m["AlarmName"].removeprefix("autoheal-probe-") for m in deployment.alarms_published())


def probe_without_site() -> ProbeRun:
    """The probe's run as wiring builds it, less the status site (which reads the switch on a
    schedule of its own): every read counted is the maintenance question's."""
    return ProbeRun(
        wiring.config(),
        wiring.probe_engine(),
        wiring.state_store(),
        None,
        wiring.under_maintenance(tolerant=True),
    )


@pytest.fixture
def broken(httpserver) -> str:
    httpserver.expect_request("/broken").respond_with_json({"status": "error"}, status=500)
    return httpserver.url_for("/broken")


def window_over(components: str) -> str:
    start = datetime.fromtimestamp(int(time.time() - 1), UTC).isoformat()
    return (
        "maintenance:\n  windows:\n"
        f"    - {{start: '{start}', duration: 1h, message: works, components: [{components}]}}\n"
    )


def test_a_fresh_outage_reads_the_switch_once_and_holds_back_what_it_covers(deploy, broken):
    deployment = deploy(monitors_yaml(dict.fromkeys(OUTAGE, broken)))
    MaintenanceStore("autoheal-state").put(
        ManualMaintenance("db", time.time(), time.time() + 600, ("b", "e"))
    )
    reads = switch_reads()
    summary = probe_without_site().invoke(time.monotonic() + 30)
    assert len(summary["transitions"]) == len(OUTAGE)
    assert reads == ["GetItem"]  # one read for six DOWN transitions
    assert published(deployment) == ["a", "c", "d", "f"]
    assert StateStore("autoheal-state").load()["b"].status == "DOWN"  # recorded, not published


def test_each_cycle_reads_the_switch_again_so_no_answer_outlives_its_cycle(deploy, httpserver, broken):
    # x and y answer their first probe, then fail: they turn DOWN in the second cycle.
    for path in ("/x", "/y"):
        httpserver.expect_oneshot_request(path).respond_with_json({"status": "ok"})
        httpserver.expect_request(path).respond_with_json({"status": "error"}, status=500)
    urls = {"a": broken, "b": broken, "x": httpserver.url_for("/x"), "y": httpserver.url_for("/y")}
    deployment = deploy(monitors_yaml(urls))
    run = probe_without_site()
    reads = switch_reads()
    run.invoke(time.monotonic() + 30)
    assert (reads, published(deployment)) == (["GetItem"], ["a", "b"])  # the switch off: both go out
    MaintenanceStore("autoheal-state").put(ManualMaintenance("db", time.time(), time.time() + 600, ("x",)))
    summary = run.invoke(time.monotonic() + 30)  # the same run and question, a new cycle
    assert summary["transitions"] == ["x: UP -> DOWN", "y: UP -> DOWN"]
    assert (reads, published(deployment)) == (["GetItem"] * 2, ["y"])  # read again: x is held back now


def test_an_unreadable_switch_counts_as_off_once_per_cycle_and_the_windows_still_hold(deploy, broken):
    deployment = deploy(monitors_yaml(dict.fromkeys(OUTAGE, broken)) + window_over("c, d"))
    # A switch item the store cannot parse (no message): the probe's read counts it as off.
    dynamodb.put("autoheal-state", {"pk": PARTITION, "sk": CURRENT, "since": 1})
    with pytest.raises(KeyError):
        MaintenanceStore("autoheal-state").current()
    reads = switch_reads()
    summary = probe_without_site().invoke(time.monotonic() + 30)
    assert len(summary["transitions"]) == len(OUTAGE) and summary["errors"] == []
    assert (reads, published(deployment)) == (["GetItem"], ["a", "b", "e", "f"])
