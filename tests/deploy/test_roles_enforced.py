"""Each function runs against moto with IAM enforcement on, as a user holding only its role.

moto 5.2.5 authorises actions but not resources or conditions (its access control leaves them as
a TODO): a pinned statement never matches moto's "*" resource. So each role is projected onto its
actions (every Resource "*", no Condition) here, and this proves every call a function makes is
an action its role grants; test_packaged_iam.py checks the resources and conditions themselves.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from chalice.local import LambdaContext

from autoheal_ops.iam import policy
from autoheal_ops.render import resolve
from autoheal_ops.stage import API_HANDLER, StageNames, functions
from chalicelib import wiring
from chalicelib.config import parse_config
from chalicelib.subscriptions.route import FORM_TYPE
from sandbox.moto_server import MotoServer
from sandbox.provision import provision
from sandbox.world import load_app

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "UnauthorizedOperation",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
}
SAMPLES = {
    "probe": "probe-scheduled.json",
    "on_alarm": "alarm-probe-down.json",  # every instance tagged app=web: it acts
    "follow_up": "follow-up-scheduled.json",
    "advance": "advance-scheduled.json",
    "maintenance": "maintenance-status.json",
    "shift_traffic": "shift-status.json",
}


def config_text(url: str, broken_url: str) -> str:
    return f"""{stage_settings("dev", ACCOUNT, REGION)}
monitors:
  - {{name: web, url: "{url}", runbook: restart-web}}
  - {{name: api, url: "{broken_url}", failure_threshold: 1}}
alarms:
  - {{match: "web-*-memory-high", runbook: restart-web}}
runbooks:
  restart-web:
    targets: {{tag: {{app: web}}}}
    steps: [{{restart: {{service: web, manager: systemd}}}}, {{escalate: {{}}}}]
deployments:
  web:
    listener: {{load_balancer: web-alb, port: 80}}
    blue: web-blue
    green: web-green
"""


def actions_only(document: dict) -> dict:
    statements = [{"Effect": "Allow", "Action": s["Action"], "Resource": "*"} for s in document["Statement"]]
    return {"Version": "2012-10-17", "Statement": statements}


def set_auth(server: MotoServer, count: str) -> None:
    url = f"{server.endpoint_url}/moto-api/reset-auth"
    # text/plain: Flask would take a form-encoded body away from request.data, which moto reads.
    request = urllib.request.Request(
        url, data=count.encode(), method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict]:
    from pytest_httpserver import HTTPServer

    saved = {
        k: os.environ.get(k)
        for k in ("AUTOHEAL_CONFIG", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    with MotoServer() as server, HTTPServer(host="127.0.0.1") as http:
        http.expect_request("/healthz").respond_with_json({"status": "ok"})
        http.expect_request("/broken").respond_with_json({"status": "error"}, status=503)
        server.apply_env()
        path = tmp_path_factory.mktemp("roles") / "autoheal.yaml"
        path.write_text(config_text(http.url_for("/healthz"), http.url_for("/broken")))
        os.environ["AUTOHEAL_CONFIG"] = str(path)
        wiring.reset()
        config = parse_config(path.read_text())
        provision(config)
        server.client("ec2").run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "app", "Value": "web"}]}],
        )
        iam, keys = server.client("iam"), {}
        for function in functions():
            user = f"autoheal-dev-{function}"
            iam.create_user(UserName=user)
            document = actions_only(policy(function, "dev", config))
            iam.put_user_policy(UserName=user, PolicyName="role", PolicyDocument=json.dumps(document))
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[function] = (key["AccessKeyId"], key["SecretAccessKey"])
        app = load_app()
        set_auth(server, "0")
        try:
            yield {"app": app, "keys": keys}
        finally:
            set_auth(server, "inf")
            for key, value in saved.items():
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
            wiring.reset()


def run_as(
    world: dict, role: str, function: str, message_id: str = "", sample: str = ""
) -> tuple[list[str], list[str]]:
    """Invoke `function` with `role`'s keys: every AWS call made, and those AWS refused."""
    calls: list[str] = []
    denied: list[str] = []
    original = BaseClient._make_api_call

    def recorded(client, operation, params):  # type: ignore[no-untyped-def]
        name = f"{client.meta.service_model.service_name}:{operation}"
        calls.append(name)
        try:
            return original(client, operation, params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in DENIED:
                denied.append(name)
            raise

    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = world["keys"][role]
    wiring.reset()
    if function == API_HANDLER:  # the app's routes: the form's POST as API Gateway's proxy event
        return run_request(world, calls, denied, recorded)
    event = json.loads((ROOT / "events" / (sample or SAMPLES[function])).read_text())
    if message_id:  # a new state change, not the one already handled (idempotency keys on its time)
        from datetime import UTC, datetime

        sns = event["Records"][0]["Sns"]
        message = json.loads(sns["Message"])
        # milliseconds too: two changes within one second must keep their order
        message["StateChangeTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        sns["MessageId"], sns["Message"] = message_id, json.dumps(message)
    BaseClient._make_api_call = recorded
    try:
        world["app"].app.handler_map[function](event, LambdaContext(function, 256, 60_000))
    except Exception:  # noqa: BLE001, S110 - a handler may raise; what counts is what AWS refused
        pass
    finally:
        BaseClient._make_api_call = original
    return calls, denied


def run_request(
    world: dict, calls: list[str], denied: list[str], recorded: Any
) -> tuple[list[str], list[str]]:
    from chalice.config import Config
    from chalice.local import LocalGateway

    original = BaseClient._make_api_call
    BaseClient._make_api_call = recorded
    try:
        gateway = LocalGateway(world["app"].app, Config.create())
        gateway.handle_request("POST", "/subscribe", {"content-type": FORM_TYPE}, b"email=ana%40example.com")
    finally:
        BaseClient._make_api_call = original
    return calls, denied


def test_the_api_handler_subscribes_with_its_own_role_alone(world):
    calls, denied = run_as(world, API_HANDLER, API_HANDLER)
    assert {"dynamodb:UpdateItem", "sns:Subscribe"} <= set(calls)
    assert denied == [], f"api_handler's role lacks {sorted(set(denied))}"
    _, denied = run_as(world, "probe", API_HANDLER)  # the probe's role may count, not subscribe
    assert denied == ["sns:Subscribe"]


@pytest.mark.parametrize("function", sorted(SAMPLES))
def test_each_function_works_with_its_own_role_alone(world, function):
    calls, denied = run_as(world, function, function)
    assert calls, f"{function} made no AWS call: nothing was checked"
    if function == "on_alarm":  # it acted: the restart went out under the role's tag rules
        assert "ssm:SendCommand" in calls and "ec2:DescribeInstances" in calls
    if function == "probe":  # api turned DOWN: its alarm went out as a batch, under sns:Publish
        assert "sns:PublishBatch" in calls
    assert denied == [], f"{function}'s role lacks {sorted(set(denied))}"


def test_enforcement_is_on_another_functions_role_is_refused(world):
    # web recovers first (as on_alarm itself), so the ALARM below opens a new incident and acts,
    # rather than joining the one an earlier test left open.
    run_as(world, "on_alarm", "on_alarm", "9b4c1e0a-0000-4000-8000-000000000000", "alarm-probe-up.json")
    time.sleep(0.01)  # the ALARM below changes after the OK, as CloudWatch would
    calls, denied = run_as(world, "probe", "on_alarm", message_id="9b4c1e0a-0000-4000-8000-000000000001")
    assert denied, f"on_alarm ran as the probe and AWS refused nothing: {calls}"


def stage_settings(stage: str, account: str, region: str) -> str:
    """The `settings:` block naming what the stage deploys in this account and region."""
    names = {k: resolve(v, account, region) for k, v in StageNames(stage).environment().items()}
    return f"""settings:
  state_table: {names["AUTOHEAL_STATE_TABLE"]}
  alarm_topic: {names["AUTOHEAL_ALARM_TOPIC"]}
  notify_topic: {names["AUTOHEAL_NOTIFY_TOPIC"]}
  status_bucket: {names["AUTOHEAL_STATUS_BUCKET"]}
  restart_document: {names["AUTOHEAL_RESTART_DOCUMENT"]}"""
