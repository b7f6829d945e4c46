"""Runbooks with `maintenance_page: true` and the `maintenance` step, through on_alarm, against the
local AWS with a real ALB listener: on while the run acts, restored exactly when it heals, left on
(until its expiry) when it escalates."""

from __future__ import annotations

import gzip
import json

from chalicelib.aws.clients import client
from chalicelib.aws.elbv2 import Elbv2
from chalicelib.maintenance.store import MaintenanceStore
from tests.maintenance.alb import build_alb
from tests.runbooks.conftest import base_config, sns_event

LISTENER = {
    "load_balancer": "web-alb",
    "port": 443,
    "page_url": "https://status.example.com/maintenance.html",
    "components": ["web"],  # its default action serves web; /api/* has a rule of its own
}


def with_maintenance_page(health_url: str, steps: list | None = None) -> dict:
    config = base_config(health_url)
    config["runbooks"]["restart-web"]["maintenance_page"] = steps is None
    if steps is not None:
        config["runbooks"]["restart-web"]["steps"] = steps
    config["maintenance"] = {"listener": LISTENER}
    return config


def status_json() -> dict:
    return json.loads(
        gzip.decompress(client("s3").get_object(Bucket="autoheal-status", Key="status.json")["Body"].read())
    )


def test_a_healed_run_turns_the_page_off_and_restores_the_listener_exactly(make_world, health):
    world = make_world(with_maintenance_page(health.url))
    alb = build_alb()
    health.status = 200  # the restart "works": the verify that follows sees it healthy
    world.on_alarm(sns_event("alarm-probe-down"))
    incident = world.incident("web")
    story = "\n".join(incident.story)
    assert "maintenance page on for web" in story and "maintenance page off" in story
    assert incident.run.state == "healed"
    assert Elbv2().default_actions(alb["listener"]) == alb["previous"]
    assert [r["RuleArn"] for r in Elbv2().rules(alb["listener"])] == [alb["api_rule"]]
    assert MaintenanceStore("autoheal-state").current() is None
    assert status_json()["maintenance"]["past"][0]["components"] == ["web"]


def test_an_escalated_run_leaves_the_page_on_until_its_expiry(make_world, health):
    world = make_world(with_maintenance_page(health.url))
    alb = build_alb()
    health.status = 503
    world.on_alarm(sns_event("alarm-probe-down"))
    assert world.incident("web").run.state == "escalated"
    current = MaintenanceStore("autoheal-state").current()
    assert current is not None and current.owner == world.incident("web").key
    assert current.until - current.since == 3600
    assert Elbv2().default_actions(alb["listener"])[0]["Type"] == "redirect"
    assert {c["name"]: c["status"] for c in status_json()["components"]}["web"] == "MAINTENANCE"


def test_the_step_switches_on_and_off_and_never_ends_a_persons_maintenance(make_world, health):
    steps = [
        {"maintenance": {"mode": "on", "message": "Restarting the web tier", "for": "10m"}},
        {"restart": {"service": "web", "manager": "pm2", "user": "ec2-user"}},
        {"verify": {"monitors": ["web"], "within": "1s"}},
        {"maintenance": {"mode": "off"}},
    ]
    world = make_world(with_maintenance_page(health.url, steps))
    alb = build_alb()
    health.status = 200
    world.on_alarm(sns_event("alarm-probe-down"))
    story = "\n".join(world.incident("web").story)
    assert "maintenance page on for web" in story and "maintenance page off" in story
    assert Elbv2().default_actions(alb["listener"]) == alb["previous"]
    log = MaintenanceStore("autoheal-state").log()
    assert log[0]["message"] == "Restarting the web tier" and log[0]["until"] - log[0]["since"] == 600
