"""Items as the stores write them, attribute by attribute as DynamoDB holds them (moto in server
mode): the layouts already in the state table, so a store's rewrite needs no migration.

The expected items are what the stores wrote before they all went through `aws/dynamodb`."""

from __future__ import annotations

from typing import Any

from chalicelib.aws.clients import client
from chalicelib.deployments.model import SHIFTING, Intent, Record
from chalicelib.deployments.store import DeploymentStore
from chalicelib.leases import Leases
from chalicelib.maintenance.mode import ManualMaintenance
from chalicelib.maintenance.store import MaintenanceStore
from chalicelib.runbooks.incident import Incident
from chalicelib.runbooks.incident_store import IncidentStore
from chalicelib.state.store import StateStore
from chalicelib.state.thresholds import MonitorState
from sandbox.provision import create_table

TABLE = "layouts"
T = 1714597384.12345


def raw(pk: str, sk: str) -> dict[str, Any]:
    key = {"pk": {"S": pk}, "sk": {"S": sk}}
    return client("dynamodb").get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item", {})


def S(text: str) -> dict[str, str]:
    return {"S": text}


def N(number: str) -> dict[str, str]:
    return {"N": number}


def test_a_deployment_item(local_aws):
    create_table(TABLE)
    record = Record(
        "web", SHIFTING, "web-blue", "web-green", "arn:l", "arn:b", "arn:g", (10, 50, 100), "canary", 300.0,
        step=0, percent=10, stickiness={"Enabled": True, "DurationSeconds": 3600}, started_at=T,
        moved_at=1714597390.5, next_move_at=1714597690.25, deadline=1714599000.0,
        intent=Intent("step", 50, "gate:compare", "ok"),
        history=({"at": "2024-05-01T21:03:04+00:00", "event": "start", "by": "person", "percent": 0,
                  "detail": "x"},),
    )  # fmt: skip
    store = DeploymentStore(TABLE)
    saved = store.save(record)

    assert raw("deployment", "web") == {
        "pk": S("deployment"), "sk": S("web"), "state": S("shifting"), "stable": S("web-blue"),
        "candidate": S("web-green"), "listener_arn": S("arn:l"), "stable_arn": S("arn:b"),
        "candidate_arn": S("arn:g"), "plan": {"L": [N("10"), N("50"), N("100")]}, "strategy": S("canary"),
        "step_interval": N("300.0"), "step": N("0"), "percent": N("10"),
        "stickiness": {"M": {"DurationSeconds": N("3600"), "Enabled": {"BOOL": True}}},
        "started_at": N("1714597384.123"), "moved_at": N("1714597390.5"), "next_move_at": N("1714597690.25"),
        "deadline": N("1714599000.0"), "version": N("1"),
        "intent": {"M": {"by": S("gate:compare"), "kind": S("step"), "percent": N("50"), "reason": S("ok")}},
        "history": {"L": [{"M": {"at": S("2024-05-01T21:03:04+00:00"), "by": S("person"), "detail": S("x"),
                                 "event": S("start"), "percent": N("0")}}]},
    }  # fmt: skip
    assert store.get("web") == Record(**{**saved.__dict__, "started_at": 1714597384.123})


def test_a_deployment_item_without_optional_times_and_with_an_int_interval(local_aws):
    create_table(TABLE)
    DeploymentStore(TABLE).save(
        Record("api", SHIFTING, "a", "b", "l", "ba", "bb", (100,), "all_at_once", 60, moved_at=2.0)
    )
    item = raw("deployment", "api")
    assert (item["step_interval"], item["moved_at"], item["started_at"]) == (N("60"), N("2.0"), N("0.0"))
    assert item["history"] == {"L": []} and item["stickiness"] == {"M": {"Enabled": {"BOOL": False}}}
    assert not {"next_move_at", "deadline", "restore_stickiness_at", "intent"} & set(item)


def test_the_maintenance_items(local_aws):
    create_table(TABLE)
    store = MaintenanceStore(TABLE)
    store.put(ManualMaintenance("upgrade", T, 1714600984.5, ("web", "api"), "ops"))
    store.set_in_effect("upgrade", 1714597385.6789)
    current = {"message": S("upgrade"), "components": {"L": [S("web"), S("api")]}, "owner": S("ops")}
    current |= {"since": N("1714597384.123"), "until": N("1714600984.5")}

    assert raw("maintenance", "current") == {"pk": S("maintenance"), "sk": S("current"), **current}
    assert raw("maintenance", "in-effect") == {
        "pk": S("maintenance"), "sk": S("in-effect"), "message": S("upgrade"), "since": N("1714597385.679")
    }  # fmt: skip

    assert store.end(1714599999.9999, expected_since=T) is not None
    entry = {**current, "ended": N("1714600000.0")}
    assert raw("maintenance", "log") == {
        "pk": S("maintenance"),
        "sk": S("log"),
        "entries": {"L": [{"M": entry}]},
    }
    assert store.log() == [
        {"message": "upgrade", "since": 1714597384.123, "until": 1714600984.5, "components": ["web", "api"],
         "owner": "ops", "ended": 1714600000.0}
    ]  # fmt: skip
    assert all(type(store.log()[0][k]) is float for k in ("since", "until", "ended"))


def test_the_monitor_items(local_aws):
    create_table(TABLE)
    StateStore(TABLE).save(
        {"web": MonitorState("DOWN", 3, 0, T, "timeout"), "db": MonitorState("UP", 0, 2, 17.0, None)},
        {"web": [{"AlarmName": "web", "NewStateValue": "ALARM", "n": 1.5}]},
    )
    assert raw("monitor", "web") == {
        "pk": S("monitor"), "sk": S("web"), "status": S("DOWN"), "failures": N("3"), "successes": N("0"),
        "since": N("1714597384.123"), "reason": S("timeout"),
        "outbox": {"L": [S('{"AlarmName": "web", "NewStateValue": "ALARM", "n": 1.5}')]},
    }  # fmt: skip
    assert raw("monitor", "db") == {
        "pk": S("monitor"), "sk": S("db"), "status": S("UP"), "failures": N("0"), "successes": N("2"),
        "since": N("17.0"),
    }  # fmt: skip


def test_a_lease_item_expires_an_hour_after_the_lease(local_aws):
    create_table(TABLE)
    Leases(TABLE).acquire("i-0abc", "web", T, 900)
    assert raw("lease", "i-0abc") == {
        "pk": S("lease"), "sk": S("i-0abc"), "owner": S("web"), "expires_at": N(str(int(T + 900))),
        "expiration": N(str(int(T + 900 + 3600))),
    }  # fmt: skip


def test_a_resolved_incident_expires_after_its_keeping_time(local_aws):
    create_table(TABLE)
    store = IncidentStore(TABLE)
    incident = Incident("web", "web down", T, "5xx")
    store.save(incident)
    assert "expiration" not in raw("incident", "web")
    incident.status, incident.resolved_at = "resolved", T + 60
    store.save(incident)
    item = raw("incident", "web")
    assert item["expiration"] == N(str(int(T + 60 + 91 * 86400))) and item["version"] == N("2")
    assert item["follow_up"] == {"BOOL": False} and item["resolved_at"] == N(repr(T + 60))
