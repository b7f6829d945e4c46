"""The fleet: real app processes that hang, fail and die on cue."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
import websocket

from sandbox.fleet import ADDRESS_TAG, Fleet, FleetError
from sandbox.fleet_app import websocket_accept


def test_every_instance_is_healthy_with_cors(fleet: Fleet) -> None:
    for name in ("blue-1", "green-1"):
        for path in ("/healthz", "/api/healthz"):
            response = requests.get(fleet.url(name) + path, timeout=2)
            version = {"blue-1": "v1", "green-1": "v2"}[name]
            assert response.json() == {"status": "ok", "instance": name, "version": version}
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert response.headers["X-App-Version"] == version
    page = requests.get(fleet.url("green-1") + "/?v=123", timeout=2)
    assert "green-1" in page.text and page.headers["Content-Type"].startswith("text/html")
    assert page.headers["X-App-Version"] == "v2"
    missing = requests.get(fleet.url("blue-1") + "/nowhere", timeout=2)
    assert (missing.status_code, missing.headers["X-App-Version"]) == (404, "v1")


def test_a_version_can_start_broken_and_stays_broken() -> None:
    with Fleet(
        [("blue-1", "blue"), ("green-1", "green")], start_timeout=5.0, broken={"v2": "error"}
    ) as fleet:
        assert requests.get(fleet.url("green-1") + "/healthz", timeout=2).status_code == 500
        assert requests.get(fleet.url("blue-1") + "/healthz", timeout=2).status_code == 200
        assert fleet.restart("green-1", timeout=2) is False  # sticky: a restart does not help
        assert fleet.state("green-1")["mode"] == "error"


def test_break_version_faults_every_instance_of_it(fleet: Fleet) -> None:
    assert fleet.break_version("v1", "error") == ["blue-1"]
    assert requests.get(fleet.url("blue-1") + "/healthz", timeout=2).status_code == 500
    assert fleet.state("blue-1")["sticky"] is True
    with pytest.raises(FleetError, match="no instance serves version 'v9'"):
        fleet.break_version("v9")


def test_unknown_broken_mode_is_refused_before_anything_starts() -> None:
    with pytest.raises(FleetError, match=r"broken\['v2'\]: expected a fault mode"):
        Fleet([("green-1", "green")], broken={"v2": "explode"})


def test_hang_never_answers_but_control_still_does(fleet: Fleet) -> None:
    fleet.fault("blue-1", "hang")
    with pytest.raises(requests.Timeout):
        requests.get(fleet.url("blue-1") + "/healthz", timeout=0.5)
    assert fleet.state("blue-1")["mode"] == "hang"
    assert requests.get(fleet.url("green-1") + "/healthz", timeout=2).ok


def test_error_answers_500(fleet: Fleet) -> None:
    fleet.fault("blue-1", "error")
    response = requests.get(fleet.url("blue-1") + "/api/healthz", timeout=2)
    assert response.status_code == 500
    assert response.json()["status"] == "error"


def test_slow_answers_after_the_delay(fleet: Fleet) -> None:
    fleet.fault("blue-1", "slow", seconds=0.6)
    started = time.monotonic()
    response = requests.get(fleet.url("blue-1") + "/healthz", timeout=5)
    assert response.ok and time.monotonic() - started >= 0.6


def test_degraded_answers_200_with_degraded_status(fleet: Fleet) -> None:
    fleet.fault("green-1", "degraded")
    response = requests.get(fleet.url("green-1") + "/healthz", timeout=2)
    assert response.status_code == 200 and response.json()["status"] == "degraded"


def test_die_exits_the_process(fleet: Fleet) -> None:
    fleet.fault("blue-1", "die")
    assert not fleet.is_alive("blue-1")
    with pytest.raises(requests.ConnectionError):
        requests.get(fleet.url("blue-1") + "/healthz", timeout=2)
    assert fleet.is_alive("green-1")


def test_none_releases_a_hang(fleet: Fleet) -> None:
    fleet.fault("blue-1", "hang")
    fleet.fault("blue-1", "none")
    assert requests.get(fleet.url("blue-1") + "/healthz", timeout=2).ok


def test_unknown_fault_is_refused(fleet: Fleet) -> None:
    with pytest.raises(FleetError):
        fleet.fault("blue-1", "explode")
    assert fleet.state("blue-1")["mode"] == "none"


def test_restart_clears_a_non_sticky_fault(fleet: Fleet) -> None:
    fleet.fault("blue-1", "hang")
    old_pid = fleet.state("blue-1")["pid"]
    assert fleet.restart("blue-1") is True
    assert requests.get(fleet.url("blue-1") + "/healthz", timeout=2).ok
    assert fleet.state("blue-1")["pid"] != old_pid


def test_restart_brings_back_a_dead_instance(fleet: Fleet) -> None:
    fleet.fault("green-1", "die")
    assert fleet.restart("green-1") is True
    assert fleet.is_alive("green-1")


def test_restart_keeps_a_sticky_fault(fleet: Fleet) -> None:
    fleet.fault("green-1", "error", sticky=True)
    assert fleet.restart("green-1", timeout=3) is False
    response = requests.get(fleet.url("green-1") + "/healthz", timeout=2)
    assert response.status_code == 500
    assert fleet.state("green-1")["sticky"] is True
    fleet.fault("green-1", "none")  # an explicit fix clears it for good
    assert fleet.restart("green-1") is True


def test_sticky_die_stays_down(fleet: Fleet) -> None:
    fleet.fault("blue-1", "die", sticky=True)
    assert fleet.restart("blue-1", timeout=3) is False
    assert not fleet.is_alive("blue-1")


def test_websocket_upgrade_answers_101(fleet: Fleet) -> None:
    for path in ("/ws", "/socket.io/?EIO=4&transport=websocket"):
        # websocket-client checks Sec-WebSocket-Accept itself.
        ws = websocket.create_connection(f"ws://127.0.0.1:{fleet.port('blue-1')}{path}", timeout=3)
        try:
            assert ws.getstatus() == 101
            assert '"blue-1"' in ws.recv()
            ws.send("ping")  # the socket stays open and answers who holds it
            assert json.loads(ws.recv()) == {"instance": "blue-1", "version": "v1", "echo": "ping"}
        finally:
            ws.close()


def test_websocket_accept_matches_rfc_6455_example(fleet: Fleet) -> None:
    key = "dGhlIHNhbXBsZSBub25jZQ=="  # the example in RFC 6455 section 1.3
    assert websocket_accept(key) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    request = (
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", fleet.port("green-1")), timeout=3) as sock:
        sock.sendall(request.encode())
        head = sock.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.1 101")
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head


def test_plain_get_on_websocket_path_is_400(fleet: Fleet) -> None:
    assert requests.get(fleet.url("blue-1") + "/ws", timeout=2).status_code == 400


def test_register_instances_tags_them(fleet: Fleet, aws_client: Callable[[str], Any]) -> None:
    ec2 = aws_client("ec2")
    ids = fleet.register_instances(ec2)
    assert set(ids) == {"blue-1", "green-1"}
    found = ec2.describe_instances(InstanceIds=[ids["green-1"]])
    tags = {t["Key"]: t["Value"] for t in found["Reservations"][0]["Instances"][0]["Tags"]}
    assert tags == {
        "Name": "green-1",
        "app": "web",
        "color": "green",
        "autoheal:stage": "local",
        ADDRESS_TAG: fleet.address("green-1"),
    }
    assert fleet.name_of(ids["blue-1"]) == "blue-1"


def test_stop_reaps_every_process() -> None:
    fleet = Fleet([("blue-1", "blue")])
    with fleet:
        fleet.fault("blue-1", "hang")  # a hung request thread must not keep it alive
        process = fleet.instance("blue-1").process
        workdir = fleet.workdir
    assert process is not None and process.poll() is not None
    assert not workdir.exists()
