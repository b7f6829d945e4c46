"""`restart` with `diagnose: true` in the local world: moto as AWS, the stage's template
provisioned (the private diagnostics bucket included), a host whose hung app runs under a real
PM2, and the sandbox's SSM agent running the shipped documents for real.

The diagnosis is kept in the private bucket with the hung process's last log lines, then the
restart happens; a diagnosis that hangs delays the restart by no more than its timeout; one that
fails or cannot be sent still restarts; a run that dies between the two sends each once; and
the public status site carries nothing of it.
"""

from __future__ import annotations

import gzip
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Optional

import pytest
import requests

from chalicelib import wiring
from chalicelib.aws.clients import client
from chalicelib.config import parse_config
from chalicelib.config.model import Config
from chalicelib.deployments.store import DeploymentStore
from chalicelib.leases import Leases
from chalicelib.notify.notice import Notice
from chalicelib.runbooks.actions import AwsActions
from chalicelib.runbooks.budget import BudgetStore
from chalicelib.runbooks.engine import RunbookEngine
from chalicelib.runbooks.incident import PAUSED, Incident
from chalicelib.runbooks.incident_store import IncidentStore
from chalicelib.state.thresholds import DOWN, MonitorState
from chalicelib.statuspage.extras import site_extras
from chalicelib.statuspage.site import StatusSite
from sandbox.fleet import Fleet
from sandbox.moto_server import MotoServer
from sandbox.pm2 import pm2_unavailable
from sandbox.provision import create_document, document_properties, provision
from sandbox.ssm_agent import DEMO_USER, SsmAgent

pytestmark = pytest.mark.skipif(pm2_unavailable() is not None, reason=str(pm2_unavailable()))

BUCKET = "t-dx-diagnostics"
CONFIG = f"""settings:
  state_table: t-dx-state
  alarm_topic: t-dx-alarms
  notify_topic: t-dx-notify
  status_bucket: t-dx-status
  restart_document: t-dx-restart
  diagnose_document: t-dx-diagnose
  diagnostics_bucket: {BUCKET}
  group_wait: 0
monitors:
  - {{name: web, url: "http://127.0.0.1:9/healthz", component: Website, runbook: restart-web}}
runbooks:
  restart-web:
    targets: {{tag: {{app: web, color: blue}}}}
    budget: {{max_runs: 50, per: 1h}}
    steps:
      - restart: {{service: web, manager: pm2, user: {DEMO_USER}, diagnose: true}}
      - escalate: {{}}
  restart-web-quick:
    targets: {{tag: {{app: web, color: blue}}}}
    budget: {{max_runs: 50, per: 1h}}
    steps:
      - restart: {{service: web, manager: pm2, user: {DEMO_USER}, diagnose: {{timeout: 2s}}}}
      - escalate: {{}}
"""
QUICK_TIMEOUT = 2.0
S3_URI = re.compile(r"s3://([^/\s;]+)/([^\s;]+)")


class Died(BaseException):
    """The Lambda died mid-step (not an Exception: the engine's step guard does not catch it)."""


class TimedActions(AwsActions):
    """The real actions, noting when each document was sent (monotonic)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, float]] = []

    def send(self, document: str, instance_ids: Sequence[str], *args: Any, **kwargs: Any) -> str:
        self.sent.append((document, time.monotonic()))
        return super().send(document, instance_ids, *args, **kwargs)

    def sent_at(self, document: str) -> float:
        return next(at for name, at in self.sent if name == document)


@dataclass
class World:
    aws: MotoServer
    config: Config
    fleet: Fleet
    ids: dict[str, str]
    agent: SsmAgent

    def engine(
        self, config: Optional[Config] = None, notices: Optional[list[Notice]] = None
    ) -> tuple[RunbookEngine, TimedActions]:
        config = config or self.config
        actions, table = TimedActions(), config.settings.state_table
        told = notices if notices is not None else []
        engine = RunbookEngine(
            config, actions, lambda monitors, deadline: [], BudgetStore(table), Leases(table), told.append
        )
        return engine, actions

    def with_document(self, name: str) -> Config:
        return replace(self.config, settings=replace(self.config.settings, diagnose_document=name))

    def commands(self, incident: Incident) -> dict[str, list[str]]:
        """This incident's commands by document: {document: [command id, ...]}."""
        found: dict[str, list[str]] = {}
        for command in client("ssm").list_commands()["Commands"]:
            if incident.key in (command.get("Comment") or ""):
                found.setdefault(command["DocumentName"], []).append(command["CommandId"])
        return found


def document_like_diagnose(run_command: list[str], timeout: int) -> dict[str, Any]:
    """A document with the diagnose document's parameters and another script."""
    content = json.loads(json.dumps(document_properties("DiagnoseDocument")["Content"]))
    inputs = content["mainSteps"][0]["inputs"]
    inputs["runCommand"], inputs["timeoutSeconds"] = run_command, str(timeout)
    return content


@pytest.fixture(scope="module")
def world(aws: MotoServer) -> Iterator[World]:
    aws.apply_env()  # provisioning and the engine use autoheal's own clients
    wiring.reset()
    config = parse_config(CONFIG)
    provision(config)
    create_document("t-dx-slow-diagnose", document_like_diagnose(["echo looking", "sleep 30"], 8))
    create_document(
        "t-dx-failing-diagnose",
        document_like_diagnose(['echo "cannot look: disk on fire" >&2', "exit 3"], 20),
    )
    with Fleet([("blue-1", "blue")], pm2=True) as fleet:
        ids = fleet.register_instances(client("ec2"))
        with SsmAgent(client("ssm"), fleet, ids, poll_interval=0.1) as agent:
            yield World(aws, config, fleet, ids, agent)
    wiring.reset()


@pytest.fixture
def hung(world: World) -> Iterator[dict[str, Any]]:
    """blue-1's app logs a few requests, then hangs; PM2's view of it before anything is done."""
    marker = uuid.uuid4().hex[:8]
    requests.get(f"{world.fleet.url('blue-1')}/long-{marker}-{'x' * 3000}", timeout=2)
    for n in range(3):
        requests.get(f"{world.fleet.url('blue-1')}/last-words-{marker}-{n}", timeout=2)
    world.fleet.fault("blue-1", "hang")
    state = world.fleet.pm2_state("blue-1")
    assert state is not None and state["status"] == "online"
    yield {**state, "marker": marker}
    world.fleet.fault("blue-1", "none")


def new_incident() -> Incident:
    return Incident(
        f"restart-web/{uuid.uuid4().hex[:8]}", "web is failing", time.time(), "timeout", name="web"
    )


def restarted(world: World, before: Mapping[str, Any]) -> bool:
    after = world.fleet.pm2_state("blue-1") or {}
    return after.get("restarts") == before["restarts"] + 1 and after.get("pid") != before["pid"]


def diagnosis_lines(incident: Incident) -> list[str]:
    return [line for line in incident.story if " diagnosis " in f" {line}"]


def test_a_restart_with_diagnose_keeps_the_hung_process_last_lines_privately_then_restarts(
    world: World, hung: dict[str, Any]
) -> None:
    notices: list[Notice] = []
    engine, actions = world.engine(notices=notices)
    incident = new_incident()
    engine.start(incident, "restart-web", time.monotonic() + 120)

    commands = world.commands(incident)
    assert [len(commands.get(d, [])) for d in ("t-dx-diagnose", "t-dx-restart")] == [1, 1], commands
    assert actions.sent_at("t-dx-diagnose") < actions.sent_at("t-dx-restart")  # diagnosed first
    assert restarted(world, hung)
    [kept] = [line for line in incident.story if "kept at s3://" in line]
    bucket, key = S3_URI.search(kept).groups()
    assert bucket == BUCKET and key.startswith("diagnoses/restart-web-")
    body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert "=== pm2 describe web ===" in body
    assert f"/last-words-{hung['marker']}-2" in body  # what the restart would have destroyed
    assert f"=== process {hung['pid']}: memory and CPU ===" in body  # the hung process, before
    assert f"/long-{hung['marker']}-xxx" in body  # kept, but bounded: no line over 1000 characters
    assert max(len(line) for line in body.splitlines()) <= 1000
    # People are pointed to it; the bucket stays private.
    assert any(n.kind == "action" and f"s3://{bucket}/{key}" in n.title for n in notices)
    block = client("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    [rule] = client("s3").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert (rule["Status"], rule["Expiration"]["Days"]) == ("Enabled", 30)


def test_the_status_site_never_carries_the_diagnosis(world: World, hung: dict[str, Any]) -> None:
    engine, _ = world.engine()
    incident = new_incident()
    engine.start(incident, "restart-web", time.monotonic() + 120)
    kept = " ".join(incident.story)
    bucket, key = S3_URI.search(kept).groups()
    command = key.split("/")[2]
    table = world.config.settings.state_table
    IncidentStore(table).save(incident)

    site = StatusSite(
        world.config, extras=site_extras(world.config, IncidentStore(table), DeploymentStore(table))
    )
    now = time.time()
    document = site.publish({"web": MonitorState(DOWN, 1, 0, now - 60, "timeout")}, {}, now)
    assert document["incident"] is not None and document["incident"]["timeline"]
    s3 = client("s3")
    published = {}
    for listed in s3.list_objects_v2(Bucket=world.config.settings.status_bucket)["Contents"]:
        stored = s3.get_object(Bucket=world.config.settings.status_bucket, Key=listed["Key"])
        body = stored["Body"].read()
        gzipped = stored.get("ContentEncoding") == "gzip"  # the site is stored compressed
        published[listed["Key"]] = (gzip.decompress(body) if gzipped else body).decode()
    assert set(published) >= {"index.html", "status.json"}
    for name, text in published.items():
        for private in (bucket, key, command, "s3://", "diagnos"):
            assert private not in text, f"{name} shows {private!r}"


def test_a_diagnosis_that_hangs_delays_the_restart_by_no_more_than_its_timeout(
    world: World, hung: dict[str, Any]
) -> None:
    engine, actions = world.engine(world.with_document("t-dx-slow-diagnose"))
    incident = new_incident()
    engine.start(incident, "restart-web-quick", time.monotonic() + 120)

    delay = actions.sent_at("t-dx-restart") - actions.sent_at("t-dx-slow-diagnose")
    assert QUICK_TIMEOUT - 0.2 <= delay <= QUICK_TIMEOUT + 0.5, delay  # its whole timeout, no more
    [line] = [line for line in diagnosis_lines(incident) if "not finished" in line]
    assert f"not finished within {QUICK_TIMEOUT:g}s" in line
    assert restarted(world, hung)  # once the agent gave up on the slow one (its 8 s)


def test_an_invocation_near_its_end_restarts_without_waiting_out_the_diagnosis(
    world: World, hung: dict[str, Any]
) -> None:
    """20 s of diagnosis cannot fit in 6 s: the restart goes out in this invocation all the same
    (its result is awaited by the next), rather than a minute later with the next tick."""
    engine, actions = world.engine(world.with_document("t-dx-slow-diagnose"))
    incident = new_incident()
    engine.start(incident, "restart-web", time.monotonic() + 6)

    delay = actions.sent_at("t-dx-restart") - actions.sent_at("t-dx-slow-diagnose")
    assert delay <= 6, delay
    assert any("not finished within this invocation's end" in line for line in diagnosis_lines(incident))
    [restart] = world.commands(incident)["t-dx-restart"]
    assert world.agent.wait_for(restart, timeout=30)  # once the agent gave up on the slow one
    assert restarted(world, hung)
    if incident.run.state == PAUSED:  # out of time before the restart's result: the next tick
        engine.resume(incident, time.monotonic() + 60)
    assert world.commands(incident)["t-dx-restart"] == [restart]  # awaited, never sent again


@pytest.mark.parametrize(
    ("document", "said"),
    [
        ("t-dx-failing-diagnose", "failed (Failed: cannot look: disk on fire)"),
        ("t-dx-no-such-document", "could not be sent (SendCommand: InvalidDocument"),
    ],
    ids=["it-fails-on-the-host", "it-cannot-be-sent"],
)
def test_a_failed_diagnosis_never_blocks_the_restart(
    world: World, hung: dict[str, Any], document: str, said: str
) -> None:
    notices: list[Notice] = []
    engine, _ = world.engine(world.with_document(document), notices)
    incident = new_incident()
    engine.start(incident, "restart-web", time.monotonic() + 120)

    assert any(said in line for line in diagnosis_lines(incident)), incident.story
    assert any(n.kind == "action" and said in n.title for n in notices)
    assert len(world.commands(incident).get("t-dx-restart", [])) == 1
    assert restarted(world, hung)


DEATHS: dict[str, Callable[[dict[str, Any]], bool]] = {
    # SendCommand went out, its id was never recorded: found again by its token.
    "after-the-diagnosis-was-sent": lambda d: (
        "command_id" in d.get("diagnosis", {}) and not d["diagnosis"].get("done")
    ),
    # The diagnosis told, the restart's intent not yet recorded.
    "between-the-diagnosis-and-the-restart": lambda d: (
        bool(d.get("diagnosis", {}).get("done")) and "token" in d and "command_id" not in d
    ),
    # The restart went out, its id was never recorded.
    "after-the-restart-was-sent": lambda d: "command_id" in d,
}


@pytest.mark.parametrize("death", list(DEATHS))
def test_dying_around_the_diagnosis_neither_repeats_nor_loses_the_restart(
    world: World, hung: dict[str, Any], death: str
) -> None:
    store = IncidentStore(world.config.settings.state_table)
    armed = [True]

    def checkpoint(incident: Incident) -> None:
        if armed[0] and DEATHS[death](incident.run.step_data):
            armed[0] = False
            raise Died(death)  # before this checkpoint is written, as a Lambda killed mid-call
        store.save(incident)

    engine, _ = world.engine()
    incident = new_incident()
    store.save(incident)
    with pytest.raises(Died):
        engine.start(incident, "restart-web", time.monotonic() + 120, checkpoint)

    resumed = store.get(incident.key)
    engine, _ = world.engine()  # the next invocation
    engine.resume(resumed, time.monotonic() + 120, checkpoint)

    commands = world.commands(incident)
    assert [len(commands.get(d, [])) for d in ("t-dx-diagnose", "t-dx-restart")] == [1, 1], commands
    assert any("kept at s3://" in line for line in resumed.story), resumed.story
    assert restarted(world, hung)


def test_check_live_finds_the_diagnose_document_and_refuses_a_bucket_that_is_not_private(
    world: World,
) -> None:
    from autoheal_ops.check import kind_lookups

    def failing(config: Config) -> dict[str, str]:
        found = {}
        for what, lookup in kind_lookups(config):
            try:
                lookup()
            except Exception as exc:  # noqa: BLE001 - what check --live reports
                found[what] = f"{type(exc).__name__}: {exc}"
        return found

    assert failing(world.config) == {}
    assert list(failing(world.with_document("t-dx-no-such-document"))) == [
        "settings.diagnose_document: document t-dx-no-such-document"
    ]
    s3 = client("s3")
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    s3.put_public_access_block(
        Bucket=BUCKET, PublicAccessBlockConfiguration={**block, "BlockPublicPolicy": False}
    )
    try:
        assert failing(world.config) == {
            f"settings.diagnostics_bucket: bucket {BUCKET}": f"PermissionError: {BUCKET} is not private:"
            " Block Public Access has BlockPublicPolicy off"
        }
    finally:
        s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration=block)
