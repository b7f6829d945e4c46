"""`probe` through Chalice's test client, against real local servers and the local AWS."""

from __future__ import annotations

import gzip
import itertools
import json

import pytest
from chalice.test import Client

from chalicelib.alarms.parse import parse_sns_record
from chalicelib.aws.clients import client, table
from chalicelib.aws.topics import PATIENCE, quick_client
from chalicelib.state.store import StateStore
from sandbox.ports import free_port
from tests.support.servers import SocketServer, hang


@pytest.fixture
def servers(httpserver):
    httpserver.expect_request("/healthz").respond_with_json({"status": "ok"})
    httpserver.expect_request("/broken").respond_with_json({"status": "error"}, status=500)
    httpserver.expect_request("/degraded").respond_with_json({"status": "degraded"})
    hanging = SocketServer(hang)
    yield {
        "ok": httpserver.url_for("/healthz"),
        "broken": httpserver.url_for("/broken"),
        "degraded": httpserver.url_for("/degraded"),
        "hang": f"http://127.0.0.1:{hanging.port}/healthz",
        "refused": f"http://127.0.0.1:{free_port()}/healthz",
    }
    hanging.stop()


def monitors_yaml(urls: dict[str, str], threshold: int = 1) -> str:
    lines = ["monitors:"]
    for name, url in urls.items():
        lines += [
            f"  - name: {name}",
            f"    url: {url}",
            "    timeout: 500ms",
            "    retries: 0",
            f"    failure_threshold: {threshold}",
            "    success_threshold: 1",
            "    expect: {json: {status: ok}}",
        ]
    return "\n".join(lines) + "\n"


def invoke_probe(deployment) -> dict:
    with Client(deployment.app.app) as chalice:
        event = chalice.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        return chalice.lambda_.invoke("probe", event).payload


def emf_documents(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_one_cycle_reports_each_monitor_with_its_reason(deploy, servers, capsys):
    deployment = deploy(monitors_yaml(servers))
    summary = invoke_probe(deployment)["monitors"]
    assert {name: m["status"] for name, m in summary.items()} == {
        "ok": "up",
        "broken": "down",
        "degraded": "down",
        "hang": "down",
        "refused": "down",
    }
    assert summary["broken"]["reason"].startswith("status 500")
    assert summary["degraded"]["reason"] == "json status: 'degraded' != 'ok'"
    assert summary["hang"]["reason"] == "timeout after 500ms"
    assert summary["refused"]["reason"] == "connection refused"
    assert summary["ok"]["reason"] is None and summary["ok"]["latency_ms"] < 500
    assert {name: m["state"] for name, m in summary.items()}["hang"] == "DOWN"


def test_state_changes_are_published_once_in_the_alarm_shape(deploy, servers):
    deployment = deploy(monitors_yaml({"ok": servers["ok"], "broken": servers["broken"]}))
    invoke_probe(deployment)
    published = deployment.alarms_published()
    assert [(m["AlarmName"], m["NewStateValue"], m["OldStateValue"]) for m in published] == [
        ("autoheal-probe-broken", "ALARM", "INSUFFICIENT_DATA")
    ]
    record = {"EventSource": "aws:sns", "Sns": {"MessageId": "m-1", "Message": json.dumps(published[0])}}
    parsed = parse_sns_record(record, probe_namespace="Autoheal")
    assert (parsed.kind, parsed.monitor, parsed.state) == ("probe", "broken", "ALARM")
    invoke_probe(deployment)  # still down: no second message
    assert deployment.alarms_published() == []


def monitor_item(request: dict) -> bool:
    item = request.get("PutRequest", {}).get("Item", {})
    return item.get("pk") in ({"S": "monitor"}, "monitor")


def test_state_lives_in_dynamodb_and_steady_cycles_write_nothing(deploy, servers):
    deployment = deploy(monitors_yaml({"ok": servers["ok"], "broken": servers["broken"]}))
    written: list[int] = []
    dynamodb = table("autoheal-state").meta.client
    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.BatchWriteItem",
        # Monitor states only: the status site keeps its own items in the table too.
        lambda params, **_: written.extend(
            [n]
            if (n := sum(1 for v in params["RequestItems"].values() for r in v if monitor_item(r)))
            else []
        ),
    )
    invoke_probe(deployment)
    states = StateStore("autoheal-state").load()
    assert (states["ok"].status, states["broken"].status) == ("UP", "DOWN")
    assert states["broken"].reason.startswith("status 500")
    # The states with the transition's message in the outbox, then the outbox emptied once SNS took it.
    assert written == [2, 1]
    invoke_probe(deployment)
    assert written == [2, 1], "a steady cycle must not write"


def test_recovery_needs_the_success_threshold_and_publishes_ok(deploy, httpserver):
    httpserver.expect_ordered_request("/flaky").respond_with_data("no", status=503)
    httpserver.expect_request("/flaky").respond_with_json({"status": "ok"})
    deployment = deploy(monitors_yaml({"flaky": httpserver.url_for("/flaky")}))
    invoke_probe(deployment)
    invoke_probe(deployment)
    states = [(m["NewStateValue"], m["OldStateValue"]) for m in deployment.alarms_published()]
    assert states == [("ALARM", "INSUFFICIENT_DATA"), ("OK", "ALARM")]


def test_metrics_are_aggregates_plus_per_monitor_ones_only_when_asked(deploy, servers, capsys):
    body = monitors_yaml({"ok": servers["ok"], "hang": servers["hang"], "broken": servers["broken"]})
    body = body.replace("  - name: ok\n", "  - name: ok\n    metrics: true\n    component: Web\n")
    body = body.replace("  - name: hang\n", "  - name: hang\n    component: Web\n")
    deployment = deploy(body)
    capsys.readouterr()
    invoke_probe(deployment)
    documents = emf_documents(capsys.readouterr().out)
    by_monitor = {d["Monitor"]: d for d in documents if "Monitor" in d}
    assert set(by_monitor) == {"ok"}  # the only one with metrics: true
    assert by_monitor["ok"]["Availability"] == [1.0] and "ResponseTime" in by_monitor["ok"]
    by_component = {d["Component"]: d for d in documents if "Component" in d}
    assert {c: (d["MonitorsUp"], d["MonitorsDown"]) for c, d in by_component.items()} == {
        "Web": ([1.0], [1.0]),
        "broken": ([0.0], [1.0]),
    }
    assert by_component["Web"]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Autoheal"
    heartbeats = [d for d in documents if d.get("ProbeHeartbeat") == [1.0]]
    assert len(heartbeats) == 1 and heartbeats[0]["CycleDuration"][0] >= 500  # the hang's timeout


def test_unresolvable_host_is_down_and_the_others_unaffected(deploy, servers):
    urls = {"ok": servers["ok"], "nowhere": "http://autoheal-test.invalid/healthz"}
    summary = invoke_probe(deploy(monitors_yaml(urls)))["monitors"]
    assert summary["ok"]["status"] == "up"
    assert summary["nowhere"]["status"] == "down" and "autoheal-test.invalid" in summary["nowhere"]["reason"]


def test_a_failing_state_read_writes_nothing_and_publishes_nothing(deploy, servers):
    deployment = deploy(monitors_yaml({"broken": servers["broken"]}))
    client("dynamodb").delete_table(TableName="autoheal-state")
    payload = invoke_probe(deployment)
    assert payload["monitors"]["broken"]["status"] == "down"
    assert any("state read failed" in e for e in payload["errors"])
    # Without the stored state a fold would overwrite it (a lost recovery, or a second ALARM):
    # no write is even tried, and nothing is claimed.
    assert not any("state write failed" in e for e in payload["errors"])
    assert deployment.alarms_published() == []


def test_a_transition_sns_refused_stays_in_the_outbox_until_it_is_published(deploy, servers):
    deployment = deploy(monitors_yaml({"broken": servers["broken"]}))
    sns = client("sns")
    refusing = [True]

    def refuse(event_name: str, **_) -> None:
        # The batch refused as a whole is sent message by message: SNS refuses that too.
        if refusing[0]:
            raise sns.exceptions.InternalErrorException(
                {"Error": {"Code": "InternalError", "Message": "injected"}}, event_name.rsplit(".", 1)[-1]
            )

    events = ("before-call.sns.PublishBatch", "before-call.sns.Publish")
    quick = [quick_client(patience) for patience in PATIENCE]
    for publisher, event in itertools.product(quick, events):
        publisher.meta.events.register(event, refuse)
    try:
        first = invoke_probe(deployment)
        assert any("publishing broken ALARM failed; kept in the outbox" in e for e in first["errors"])
        assert deployment.alarms_published() == []
        assert StateStore("autoheal-state").load_with_outbox()[1]["broken"][0]["NewStateValue"] == "ALARM"
        refusing[0] = False
        second = invoke_probe(deployment)  # still DOWN: no new transition, the old one goes out
    finally:
        for publisher, event in itertools.product(quick, events):
            publisher.meta.events.unregister(event, refuse)
    assert second["errors"] == [] and second["transitions"] == []
    [message] = deployment.alarms_published()
    assert (message["AlarmName"], message["NewStateValue"]) == ("autoheal-probe-broken", "ALARM")
    assert StateStore("autoheal-state").load_with_outbox()[1] == {}


def test_status_json_is_republished_with_no_store(deploy, servers):
    deployment = deploy(monitors_yaml({"ok": servers["ok"], "broken": servers["broken"]}))
    invoke_probe(deployment)
    document = client("s3").get_object(Bucket="autoheal-status", Key="status.json")
    assert document["CacheControl"] == "no-store"
    body = json.loads(gzip.decompress(document["Body"].read()))
    assert body["healthy"] is False
    assert {c["name"]: c["status"] for c in body["components"]} == {"ok": "UP", "broken": "DOWN"}


def test_sub_minute_probing_runs_several_cycles_in_one_invocation(deploy, servers):
    deployment = deploy("  probe_every: 1s\n" + monitors_yaml({"hang": servers["hang"]}, threshold=2))
    payload = invoke_probe(deployment)
    assert payload["cycles"] >= 2
    assert payload["transitions"] == ["hang: UNKNOWN -> DOWN"]


def test_a_bad_config_fails_the_cold_start_naming_the_key(deploy):
    with pytest.raises(Exception, match=r"monitors\[0\]\.timeout: expected a duration"):
        deploy("monitors: [{name: web, url: 'http://127.0.0.1:1/', timeout: soon}]")
