"""Maintenance end to end through app.py (Chalice's test client) against the local AWS with a real
ALB listener: the switch, its expiry in follow_up, scheduled windows, and the silencing of alarms
while the probe keeps recording."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.alarms.message import probe_alarm_message
from chalicelib.aws.clients import client
from chalicelib.aws.elbv2 import Elbv2
from chalicelib.runbooks.incident_store import IncidentStore
from chalicelib.state.store import StateStore
from chalicelib.state.thresholds import DOWN, MonitorState
from tests.conftest import Deployment
from tests.maintenance.alb import build_alb

PAGE = "https://status.example.com/maintenance.html"
CONFIG = """monitors:
  - {{name: web, url: '{url}', component: Website, timeout: 500ms, retries: 0, failure_threshold: 1}}
  - {{name: api, url: '{url}', component: API, timeout: 500ms, retries: 0, failure_threshold: 1}}
maintenance:
  listener: {{load_balancer: web-alb, port: 443, form: {form}, page_url: '{page}'{served}}}
{windows}"""


def config(
    url: str = "http://127.0.0.1:9/healthz", form: str = "redirect", windows: str = "", served: str = ""
) -> str:
    served = f", components: {served}" if served else ""
    return CONFIG.format(url=url, form=form, page=PAGE, windows=windows, served=served)


def scheduled(chalice: Client) -> dict:
    return chalice.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )


def invoke(chalice: Client, name: str, payload: dict | None = None) -> dict:
    return chalice.lambda_.invoke(name, payload if payload is not None else scheduled(chalice)).payload


def window_from_now(seconds_ago: float, duration: str, components: str = "[]") -> str:
    start = datetime.fromtimestamp(int(time.time() - seconds_ago), UTC).isoformat()
    return (
        "  windows:\n"
        f"    - {{start: '{start}', duration: {duration}, message: works, components: {components}}}\n"
    )


def add_window(deployment: Deployment, seconds: int, components: str = "[]") -> int:
    """A window that began a second ago, written once the world is up (deploying takes seconds on
    a loaded machine, which a window in the deployed config would spend); returns its end."""
    ends = int(time.time() - 1) + seconds
    body = deployment.config_path.read_text()
    deployment.config_path.write_text(body + window_from_now(1, f"{seconds}s", components))
    wiring.reset()
    wiring.config()  # read now: inside the Client, the stage's environment names the shipped config
    return ends


@pytest.mark.parametrize("form", ["redirect", "fixed-response"])
def test_the_function_diverts_the_listener_and_restores_it_exactly(deploy, form):
    deployment = deploy(config(form=form))
    alb = build_alb()
    elb = Elbv2()
    with Client(deployment.app.app) as chalice:
        on = invoke(chalice, "maintenance", {"action": "on", "message": "DB upgrade", "for": "30m"})
        assert on["mode"] == "on", on
        action = elb.default_actions(alb["listener"])[0]
        assert action["Type"] == form
        if form == "redirect":
            assert action["RedirectConfig"]["Host"] == "status.example.com"
        else:
            assert action["FixedResponseConfig"]["StatusCode"] == "503"
            assert PAGE in action["FixedResponseConfig"]["MessageBody"]
        health = [r for r in elb.rules(alb["listener"]) if r["RuleArn"] != alb["api_rule"]]
        assert health[0]["Conditions"][0]["PathPatternConfig"]["Values"] == ["/healthz", "/api/healthz"]
        off = invoke(chalice, "maintenance", {"action": "off"})
    assert off["mode"] == "off" and off["maintenance"] == "ended"
    assert elb.default_actions(alb["listener"]) == alb["previous"]  # read back: exactly as before
    assert [r["RuleArn"] for r in elb.rules(alb["listener"])] == [alb["api_rule"]]


def test_a_config_without_a_listener_records_maintenance_and_leaves_the_alb_alone(deploy):
    deployment = deploy("monitors:\n  - {name: web, url: 'http://127.0.0.1:9/healthz'}\n")
    alb = build_alb()
    with Client(deployment.app.app) as chalice:
        assert invoke(chalice, "maintenance", {"action": "on", "for": "5m"})["mode"] == "on"
        assert Elbv2().default_actions(alb["listener"]) == alb["previous"]
        assert invoke(chalice, "maintenance", {"action": "off"})["mode"] == "off"


def test_follow_up_ends_a_forgotten_maintenance_and_restores_the_listener(deploy):
    deployment = deploy(config())
    alb = build_alb()
    with Client(deployment.app.app) as chalice:
        switched = time.time()
        invoke(chalice, "maintenance", {"action": "on", "for": "4s"})
        assert Elbv2().default_actions(alb["listener"])[0]["Type"] == "redirect"
        assert invoke(chalice, "follow_up")["maintenance"] == []  # not yet expired: nothing done
        time.sleep(max(0.0, switched + 4.2 - time.time()))
        done = invoke(chalice, "follow_up")["maintenance"]
        assert "ended: expired" in done and "maintenance: ended" in done
        assert invoke(chalice, "maintenance", {"action": "status"})["mode"] == "off"
        assert invoke(chalice, "follow_up")["maintenance"] == []  # once only
    assert Elbv2().default_actions(alb["listener"]) == alb["previous"]


def test_a_window_diverts_while_active_and_raises_what_is_still_down_at_its_end(deploy):
    deployment = deploy(config())
    alb = build_alb()
    ends = add_window(deployment, 8)
    with Client(deployment.app.app) as chalice:
        assert invoke(chalice, "follow_up")["maintenance"] == ["maintenance: began"]
        assert Elbv2().default_actions(alb["listener"])[0]["Type"] == "redirect"
        assert invoke(chalice, "follow_up")["maintenance"] == []  # idempotent while it lasts
        StateStore("autoheal-state").save({"web": MonitorState(DOWN, 1, 0, time.time(), "status 500")})
        time.sleep(max(0.0, ends - time.time()) + 0.2)
        done = invoke(chalice, "follow_up")["maintenance"]
    assert done == ["maintenance: ended", "still_down: ['web']"]
    assert Elbv2().default_actions(alb["listener"]) == alb["previous"]
    raised = deployment.alarms_published()
    assert [(m["AlarmName"], m["NewStateValue"]) for m in raised] == [("autoheal-probe-web", "ALARM")]
    assert raised[0]["NewStateReason"] == "still down as maintenance ends: status 500"


def test_during_a_window_alarms_are_held_back_and_the_probe_keeps_recording(deploy, httpserver):
    httpserver.expect_request("/healthz").respond_with_json({"status": "error"}, status=500)
    deployment = deploy(config(url=httpserver.url_for("/healthz"), windows=window_from_now(1, "1h", "[API]")))
    build_alb()
    with Client(deployment.app.app) as chalice:
        summary = invoke(chalice, "probe")
        assert summary["transitions"] == ["web: UNKNOWN -> DOWN", "api: UNKNOWN -> DOWN"]
        # api is under maintenance: its DOWN is saved but not published; web's goes out.
        published = [m["AlarmName"] for m in deployment.alarms_published()]
        assert published == ["autoheal-probe-web"]
        assert StateStore("autoheal-state").load()["api"].status == DOWN
        status = json.loads(
            gzip.decompress(
                client("s3").get_object(Bucket="autoheal-status", Key="status.json")["Body"].read()
            )
        )
        assert {c["name"]: c["status"] for c in status["components"]}["API"] == "MAINTENANCE"
        # An ALARM that reaches on_alarm anyway (a CloudWatch alarm, a copy) opens nothing.
        body = probe_alarm_message("api", "ALARM", "OK", "status 500", "Autoheal", datetime.now(UTC))
        out = invoke(chalice, "on_alarm", chalice.events.generate_sns_event(json.dumps(body)))
        assert out["handled"][0]["action"] == "none: under maintenance"
        body = probe_alarm_message("web", "ALARM", "OK", "status 500", "Autoheal", datetime.now(UTC))
        out = invoke(chalice, "on_alarm", chalice.events.generate_sns_event(json.dumps(body)))
        assert out["handled"][0]["status"] == "open"
    open_incidents = IncidentStore("autoheal-state").needing_follow_up()
    assert [sorted(i.signals) for i in open_incidents] == [["autoheal-probe-web"]]  # none for api
    notified = deployment.drain(deployment.resources.notify_queue_url)
    assert [n["Subject"] for n in notified if "api" in n["Subject"]] == []


def test_one_components_window_leaves_the_site_up_and_raises_its_still_down_at_its_end(deploy):
    deployment = deploy(config())
    alb = build_alb()
    ends = add_window(deployment, 6, "[API]")
    with Client(deployment.app.app) as chalice:
        assert invoke(chalice, "follow_up")["maintenance"] == ["maintenance: began"]
        assert Elbv2().default_actions(alb["listener"]) == alb["previous"]  # the site stays up
        status = json.loads(
            gzip.decompress(
                client("s3").get_object(Bucket="autoheal-status", Key="status.json")["Body"].read()
            )
        )
        shown = {c["name"]: c["status"] for c in status["components"]}
        assert shown["API"] == "MAINTENANCE" and shown["Website"] != "MAINTENANCE"
        StateStore("autoheal-state").save({"api": MonitorState(DOWN, 1, 0, time.time(), "status 500")})
        time.sleep(max(0.0, ends - time.time()) + 0.2)
        done = invoke(chalice, "follow_up")["maintenance"]
    assert done == ["maintenance: ended", "still_down: ['api']"]
    assert Elbv2().default_actions(alb["listener"]) == alb["previous"]
    assert [m["AlarmName"] for m in deployment.alarms_published()] == ["autoheal-probe-api"]


def test_a_listener_is_diverted_only_by_a_maintenance_of_what_it_serves(deploy):
    deployment = deploy(config(served="[API]"))
    alb = build_alb()
    with Client(deployment.app.app) as chalice:
        website = invoke(chalice, "maintenance", {"action": "on", "for": "5m", "components": ["Website"]})
        assert website["mode"] == "on"
        assert Elbv2().default_actions(alb["listener"]) == alb["previous"]
        invoke(chalice, "maintenance", {"action": "on", "for": "5m", "components": ["API"]})
        assert Elbv2().default_actions(alb["listener"])[0]["Type"] == "redirect"
        assert invoke(chalice, "maintenance", {"action": "off"})["mode"] == "off"
    assert Elbv2().default_actions(alb["listener"]) == alb["previous"]


def test_a_listener_naming_an_unknown_component_is_refused(deploy):
    from chalicelib.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as refused:
        parse_config(config(served="[Payments]"))
    assert "maintenance.listener.components: no component named 'Payments'" in refused.value.errors
