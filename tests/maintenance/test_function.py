"""The `maintenance` function against the local AWS, with an in-memory load balancer side."""

from __future__ import annotations

import gzip
import json

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.aws.clients import client, table
from chalicelib.maintenance.service import MaintenanceFunction
from chalicelib.maintenance.store import MaintenanceStore

NOW = 1_750_000_000.0
MONITORS = """monitors:
  - {name: web, url: 'http://127.0.0.1:9/healthz', component: Website}
  - {name: api, url: 'http://127.0.0.1:9/api/healthz', component: API}
maintenance:
  windows:
    - {cron: '0 3 * * SUN', duration: 1h, message: weekly, components: [API]}
"""


class FakeListener:
    """Stands in for the ALB adapter: records calls; can be told to fail."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple] = []
        self.fail = fail

    def divert(self, reason: str) -> None:
        if self.fail:
            raise RuntimeError("ModifyListener refused")
        self.calls.append(("divert", reason))

    def restore(self) -> None:
        self.calls.append(("restore",))

    def diverted(self) -> bool:
        """As the listener's owner answers: a divert is held until a restore."""
        return bool(self.calls) and self.calls[-1][0] == "divert"


@pytest.fixture
def setup(deploy):
    deployment = deploy(MONITORS)
    config = wiring.config()
    clock = {"now": NOW}
    listener = FakeListener()
    function = MaintenanceFunction(
        config,
        MaintenanceStore(config.settings.state_table),
        listener,
        wiring.site_republisher(),
        lambda: clock["now"],
    )
    return deployment, function, listener, clock


def s3_object(key: str) -> dict:
    return client("s3").get_object(Bucket="autoheal-status", Key=key)


def state_items() -> list[dict]:
    return table("autoheal-state").scan()["Items"]


def test_on_diverts_once_records_and_republishes(setup):
    _, function, listener, _ = setup
    result = function.handle({"action": "on", "message": "DB upgrade", "for": "30m", "components": ["API"]})
    assert (
        result["mode"] == "on"
        and result["until"] == "2025-06-15T15:36:40Z"
        and result["components"] == ["API"]
    )
    assert listener.calls == [("divert", "DB upgrade")]
    document = json.loads(gzip.decompress(s3_object("status.json")["Body"].read()))
    assert document["maintenance"]["active"][0]["message"] == "DB upgrade"
    assert {c["name"]: c["status"] for c in document["components"]}["API"] == "MAINTENANCE"
    assert document["maintenance"]["scheduled"][0]["message"] == "weekly"
    page = s3_object("maintenance.html")
    assert page["CacheControl"] == "no-store" and page["ContentType"].startswith("text/html")
    assert b"DB upgrade" in gzip.decompress(page["Body"].read())
    assert s3_object("index.html")["CacheControl"] == "public, max-age=30"
    assert s3_object("feed.xml")["ContentType"].startswith("application/atom+xml")
    again = function.handle({"action": "on", "message": "DB upgrade, longer", "for": "1h"})
    assert again["since"] == result["since"] and listener.calls == [("divert", "DB upgrade")]


def test_off_restores_and_logs_the_maintenance(setup):
    _, function, listener, clock = setup
    function.handle({"action": "on", "for": "30m"})
    clock["now"] += 600
    result = function.handle({"action": "off"})
    assert result["mode"] == "off" and listener.calls[-1] == ("restore",)
    document = json.loads(gzip.decompress(s3_object("status.json")["Body"].read()))
    assert document["maintenance"]["active"] == [] and len(document["maintenance"]["past"]) == 1
    assert function.handle({"action": "off"})["mode"] == "off" and listener.calls.count(("restore",)) == 1


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        ({"action": "dance"}, "action"),
        ({"action": "on"}, "for"),
        ({"action": "on", "for": "soon"}, "for"),
        ({"action": "on", "for": "30m", "until": "2030-01-01T00:00:00Z"}, "for"),
        ({"action": "on", "until": "2025-06-15T10:00"}, "until"),
        ({"action": "on", "until": "2020-01-01T00:00:00Z"}, "until"),
        ({"action": "on", "for": "30m", "components": ["Nope"]}, "components"),
        ({"action": "on", "for": "30m", "message": ""}, "message"),
        ({"action": "on", "for": "30m", "colour": "red"}, "colour"),
        (["on"], "(payload)"),
    ],
)
def test_a_bad_payload_names_the_key_and_changes_nothing(setup, payload, key):
    _, function, listener, _ = setup
    before = state_items()
    result = function.handle(payload)
    assert result["error"].startswith(f"{key}:")
    assert state_items() == before and listener.calls == []
    assert "Contents" not in client("s3").list_objects_v2(Bucket="autoheal-status")


def test_a_load_balancer_failure_leaves_no_record(setup):
    _, function, _, _ = setup
    function.listener = FakeListener(fail=True)
    result = function.handle({"action": "on", "for": "30m"})
    assert "load balancer" in result["error"]
    assert function.handle({"action": "status"})["mode"] == "off"


def test_a_divert_whose_record_failed_is_reported_on_and_finished_by_follow_up(setup, monkeypatch):
    """Issue 17 case 3: users see the page, so the operator is never told "could not divert"."""
    _, function, listener, clock = setup
    store = function.store
    real = store.set_in_effect
    failures = iter([RuntimeError("DynamoDB timed out")])

    def flaky(*args, **kwargs):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "set_in_effect", flaky)
    result = function.handle({"action": "on", "for": "30m"})
    assert "error" not in result and result["mode"] == "on"
    assert result["warnings"] == ["the page is up; its record failed (RuntimeError): follow_up completes it"]
    clock["now"] += 60
    function.follow()  # the next minute records what is in effect
    assert store.in_effect()
    function.handle({"action": "off"})
    assert listener.calls[-1] == ("restore",)


def test_a_forgotten_maintenance_ends_at_its_expiry(setup):
    _, function, listener, clock = setup
    function.handle({"action": "on", "for": "30m"})
    assert function.end_expired(clock["now"] + 1799) is None
    ended = function.end_expired(clock["now"] + 1800)
    assert ended["ended"] == "expired" and ended["mode"] == "off"
    assert listener.calls[-1] == ("restore",)
    assert function.end_expired(clock["now"] + 3600) is None


def test_status_and_bad_payloads_through_the_deployed_function(setup):
    deployment, *_ = setup
    with Client(deployment.app.app) as chalice:
        status = chalice.lambda_.invoke("maintenance", {"action": "status"}).payload
        bad = chalice.lambda_.invoke("maintenance", {"action": "on", "for": "forever"}).payload
    assert status["mode"] == "off" and status["windows"]["scheduled"][0]["message"] == "weekly"
    assert bad["error"].startswith("for: expected a duration")


def test_sample_events_are_valid_payloads(setup):
    _, function, _, _ = setup
    for name in ("on", "off", "status"):
        with open(f"events/maintenance-{name}.json", encoding="utf-8") as handle:
            assert "error" not in function.handle(json.load(handle))
