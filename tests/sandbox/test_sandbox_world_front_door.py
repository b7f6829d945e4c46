"""The world puts the fleet behind its deployments' load balancers and serves the status site."""

from __future__ import annotations

from pathlib import Path

import requests

from chalicelib.aws.clients import client
from sandbox.world import World

CONFIG = """settings:
  state_table: autoheal-state
  alarm_topic: autoheal-alarms
  notify_topic: autoheal-notify
  status_bucket: autoheal-status
monitors:
  - name: web
    url: http://${ALB_WEB_ALB_80}/healthz
  - name: green
    url: http://${FLEET_GREEN_1}/healthz
  - name: status
    url: http://${STATUS_SITE}/
deployments:
  web:
    listener: {load_balancer: web-alb, port: 80}
    blue: web-blue
    green: web-green
"""


def test_world_serves_blue_through_the_door_and_the_status_site(tmp_path: Path) -> None:
    config = tmp_path / "autoheal.yaml"
    config.write_text(CONFIG)
    with World(str(config), broken={"v2": "error"}) as world:
        urls = world.urls()
        door = world.front_door
        assert door is not None and world.website is not None
        assert urls["web-alb:80"] == door.url("web-alb", 80)
        # The monitor's ${ALB_WEB_ALB_80} is the door's own address, reserved before the config was read.
        assert world.config.monitors[0].url == urls["web-alb:80"] + "/healthz"
        assert world.config.monitors[2].url == urls["status site"] + "/"
        served = [requests.get(urls["web-alb:80"] + "/healthz", timeout=5) for _ in range(6)]
        assert {r.json()["instance"] for r in served} == {"blue-1", "blue-2"}
        assert door.served.counts() == {"v1": 6}
        assert (
            requests.get(urls["green-1"] + "/healthz", timeout=5).status_code == 500
        )  # broken from the start
        client("s3").put_object(
            Bucket="autoheal-status", Key="index.html", Body=b"<h1>up</h1>", ContentType="text/html"
        )
        assert requests.get(urls["status site"] + "/", timeout=5).text == "<h1>up</h1>"
        assert requests.get(urls["status site"] + "/missing", timeout=5).status_code == 404
    assert world.front_door is None and world.website is None
