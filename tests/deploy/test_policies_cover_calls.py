"""Least privilege that holds in AWS: every call each function makes, driven through realistic
flows in the local world, is allowed by its generated policy's actions, resources and conditions.

moto checks actions only (test_roles_enforced.py). Here the calls are recorded through botocore's
event hooks (tests/deploy/aws_calls.py) and decided by autoheal_ops.policy_eval against the
stage's policy with the ARNs moto gives, the instances' real tags included. The world is the dev
stage's names in moto's account: a canary deployment with an after_promote hook, maintenance on
the same listener, a runbook that restarts, reboots and shows the maintenance page.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.local import LambdaContext

from autoheal_ops.iam import policy, stage_tag
from autoheal_ops.policy_eval import decide
from autoheal_ops.render import resolve
from autoheal_ops.stage import API_HANDLER, StageNames, functions
from chalicelib import wiring
from chalicelib.config import parse_config
from chalicelib.state.store import StateStore
from chalicelib.state.thresholds import DOWN, MonitorState
from chalicelib.subscriptions.route import FORM_TYPE
from sandbox.fleet import launch_instances
from sandbox.moto_server import MotoServer
from sandbox.provision import Member, provision, provision_load_balancers
from sandbox.world import load_app
from tests.deploy.aws_calls import Account, Call, Recorder, recording, requests_for
from tests.deploy.test_alarm_topic_policy import publishes, role, topic, topic_policy
from tests.deploy.test_roles_enforced import stage_settings
from tests.fanout.events import shard_event

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION, STAGE = "123456789012", "us-east-1", "dev"
FLEET = [("blue-1", "blue"), ("blue-2", "blue"), ("green-1", "green")]


def config_text(url: str) -> str:
    document = resolve(StageNames(STAGE).environment()["AUTOHEAL_RESTART_DOCUMENT"], ACCOUNT, REGION)
    return f"""{stage_settings(STAGE, ACCOUNT, REGION)}
monitors:
  - {{name: web, url: "{url}", runbook: restart-web, timeout: 1s, retries: 0, failure_threshold: 1}}
alarms:
  - {{match: "web-page-*", runbook: page-cycle}}
runbooks:
  page-cycle:
    targets: {{tag: {{app: web}}}}
    steps: [{{maintenance: {{mode: "on", for: 5m}}}}, {{maintenance: {{mode: "off"}}}}, {{escalate: {{}}}}]
  restart-web:
    targets: {{tag: {{app: web}}}}
    maintenance_page: true
    steps: [{{restart: {{service: web, manager: systemd}}}}, {{reboot: {{}}}}, {{escalate: {{}}}}]
maintenance:
  listener: {{load_balancer: web-alb, port: 443, form: fixed-response, page_url: "https://status.example.com/"}}
deployments:
  web:
    listener: {{load_balancer: web-alb, port: 443}}
    blue: web-blue
    green: web-green
    strategy: canary
    steps: [50, 100]
    step_interval: 1s
    hooks:
      after_promote:
        - run: {{document: {document}, parameters: {{service: web}}}}
"""


class World:
    def __init__(self, app: Any, recorder: Recorder, server: MotoServer, http: Any) -> None:
        self.app, self.recorder, self.server, self.http = app, recorder, server, http

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        wiring.reset()
        with self.recorder.acting_as(function):
            return self.app.app.handler_map[function](event, LambdaContext(function, 256, 60_000))

    def post(self, path: str, body: bytes) -> dict[str, Any]:
        """A form's POST through API Gateway's proxy event to the app's routes (api_handler)."""
        from chalice.config import Config
        from chalice.local import LocalGateway

        wiring.reset()
        headers = {"content-type": FORM_TYPE}
        with self.recorder.acting_as(API_HANDLER):
            return LocalGateway(self.app.app, Config.create()).handle_request("POST", path, headers, body)

    def sample(self, name: str) -> dict[str, Any]:
        return json.loads((ROOT / "events" / name).read_text())

    def health(self, status: int) -> None:
        self.http.clear()
        self.http.expect_request("/healthz").respond_with_json({"status": "ok"}, status=status)

    def tags(self, instance_id: str) -> dict[str, str]:
        found = self.server.client("ec2").describe_instances(InstanceIds=[instance_id])
        return {t["Key"]: t["Value"] for t in found["Reservations"][0]["Instances"][0].get("Tags", [])}


def alarm_event(world: World, state: str, name: str = "") -> dict[str, Any]:
    """A new state change of the probe's web alarm, or of the metric alarm `name` on the whole
    tier (idempotency keys on the message's id and time)."""
    from datetime import UTC, datetime

    event = world.sample("alarm-metric-alarm.json" if name else "alarm-probe-down.json")
    sns = event["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    message["NewStateValue"] = state
    if name:
        message["AlarmName"], message["Trigger"]["Dimensions"] = name, []
    message["StateChangeTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    sns["MessageId"], sns["Message"] = f"{state}-{time.time_ns()}", json.dumps(message)
    return event


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    from pytest_httpserver import HTTPServer

    saved = os.environ.get("AUTOHEAL_CONFIG")
    recorder = Recorder()
    with MotoServer() as server, HTTPServer(host="127.0.0.1") as http, recording(recorder):
        server.apply_env()
        path = tmp_path_factory.mktemp("calls") / "autoheal.yaml"
        path.write_text(config_text(http.url_for("/healthz")))
        os.environ["AUTOHEAL_CONFIG"] = str(path)
        wiring.reset()
        config = parse_config(path.read_text())
        provision(config)
        ids = launch_instances(server.client("ec2"), FLEET, stage=STAGE)
        members = [Member(ids[name], color, 80) for name, color in FLEET]
        provision_load_balancers(config.deployments, members)
        world = World(load_app(), recorder, server, http)
        world.health(200)
        try:
            yield world
        finally:
            os.environ.pop("AUTOHEAL_CONFIG", None) if saved is None else os.environ.update(
                AUTOHEAL_CONFIG=saved
            )
            wiring.reset()


def drive(world: World) -> None:
    """Each function through its flows, in an order that leaves each the state the next needs."""
    world.health(500)
    world.invoke("probe", world.sample("probe-scheduled.json"))  # web DOWN: published, site written
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{StageNames(STAGE).probe_queue}"
    world.invoke("probe_worker", shard_event(("web",), queue))  # a fan-out shard: states by key, a summary
    world.invoke("maintenance", {"action": "on", "message": "upgrade", "for": "30m"})
    world.invoke("maintenance", {"action": "status"})
    world.invoke("maintenance", {"action": "off"})  # web still down: its DOWN is raised
    # A runbook's page on and off while web is still DOWN in the state: on_alarm raises it.
    world.invoke("on_alarm", alarm_event(world, "ALARM", "web-page-check"))
    world.invoke("on_alarm", alarm_event(world, "ALARM"))  # page up, restart, reboot, escalate
    world.invoke("follow_up", world.sample("follow-up-scheduled.json"))
    world.health(200)
    world.invoke("on_alarm", alarm_event(world, "OK"))  # recovered: the page comes down
    world.invoke("maintenance", {"action": "on", "for": "1s"})
    time.sleep(1.2)
    StateStore(wiring.config().settings.state_table).save(
        {"web": MonitorState(DOWN, 1, 0, time.time(), "500")}
    )
    world.invoke("follow_up", world.sample("follow-up-scheduled.json"))  # expired: ended, DOWN raised
    world.invoke("shift_traffic", world.sample("shift-start-canary.json") | {"step_interval": "1s"})
    time.sleep(1.2)
    world.invoke("advance", world.sample("advance-scheduled.json"))
    world.invoke("shift_traffic", world.sample("shift-status.json"))
    world.invoke("shift_traffic", world.sample("shift-promote.json"))  # after_promote: SendCommand
    world.invoke("shift_traffic", {"action": "start", "deployment": "web", "to": "web-blue"})
    world.invoke("shift_traffic", {"action": "abort", "deployment": "web", "reason": "test"})
    answer = world.post("/subscribe", b"email=ana%40example.com&component=web")  # the status page's form
    assert answer["statusCode"] == 202, answer


@pytest.fixture(scope="module")
def calls(world: World) -> list[Call]:
    drive(world)
    return list(world.recorder.calls)


@functools.cache
def resolved_policy(function: str) -> dict[str, Any]:
    text = json.dumps(policy(function, STAGE, wiring.config()))
    return json.loads(resolve(text, ACCOUNT, REGION))


@pytest.mark.parametrize("function", functions())
def test_every_call_the_function_makes_is_allowed_by_its_policy(world, calls, function):
    made = [c for c in calls if c.function == function]
    assert made, f"{function} made no AWS call: nothing was checked"
    where = Account(ACCOUNT, REGION, world.tags)
    document = resolved_policy(function)
    denied = [
        f"{function}: {r.action} on {r.resource} {dict(r.context) or ''}".rstrip()
        for call in made
        for r in requests_for(call, where)
        if decide(document, r) != "Allow"
    ]
    assert denied == [], "\n".join(sorted(set(denied)))


def test_the_alarms_topic_accepts_every_function_that_publishes_to_it(calls):
    """The topic's own policy too: in one account, its explicit Deny would override the role."""
    document = topic_policy(stage=STAGE)
    publishers = {
        c.function for c in calls if c.action == "sns:Publish" and c.params.get("TopicArn") == topic(STAGE)
    }
    assert {"probe", "maintenance", "follow_up", "on_alarm"} <= publishers
    for function in publishers:
        assert publishes(role(StageNames(STAGE).function(function)), document, STAGE) != "Deny", function


EXPECTED = {  # what each flow must have reached, or the test above checked less than it claims
    "probe": {"sns:Publish", "s3:PutObject"},
    "maintenance": {"elasticloadbalancing:ModifyListener", "elasticloadbalancing:CreateRule", "sns:Publish"},
    "on_alarm": {"ssm:SendCommand", "ec2:RebootInstances", "elasticloadbalancing:ModifyListener"},
    "follow_up": {"sns:Publish", "elasticloadbalancing:ModifyListener"},
    "shift_traffic": {"elasticloadbalancing:ModifyListener", "ssm:SendCommand"},
    "advance": {"elasticloadbalancing:ModifyListener"},
    API_HANDLER: {"dynamodb:UpdateItem", "sns:Subscribe"},
}


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_the_flows_reach_the_calls_that_matter(calls, function):
    made = {c.action for c in calls if c.function == function}
    assert EXPECTED[function] <= made, f"{function} never made {EXPECTED[function] - made}"


def test_an_instance_of_the_other_stage_is_refused(world, calls):
    """The same app=web tier in prod: dev's policy refuses to restart or reboot it."""
    prod = launch_instances(world.server.client("ec2"), [("prod-1", "blue")], stage="prod")["prod-1"]
    where = Account(ACCOUNT, REGION, world.tags)
    assert world.tags(prod)["autoheal:stage"] == "prod" and stage_tag(STAGE) != stage_tag("prod")
    for call in (c for c in calls if c.action in ("ssm:SendCommand", "ec2:RebootInstances")):
        params = {**call.params, "InstanceIds": [prod]}
        instance = requests_for(Call(call.function, call.action, params), where)[-1]
        assert decide(resolved_policy(call.function), instance) == "ImplicitDeny", call
