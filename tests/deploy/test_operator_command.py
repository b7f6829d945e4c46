"""The operator command against the local world, through Lambda's Invoke API over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from autoheal_ops.__main__ import Refused, invoke, parser
from autoheal_ops.invoke import Functions
from sandbox.world import World

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """settings:
  state_table: autoheal-state
  alarm_topic: autoheal-alarms
  notify_topic: autoheal-notify
  status_bucket: autoheal-status
  chat_webhook_parameter: /autoheal/chat-webhook
monitors:
  - name: web
    url: http://${ALB_WEB_ALB_80}/healthz
  - name: blue-1
    url: http://${FLEET_BLUE_1}/healthz
runbooks:
  restart-web:
    targets: {tag: {app: web}}
    steps: [{restart: {service: web, manager: systemd}}, {escalate: {}}]
deployments:
  web:
    listener: {load_balancer: web-alb, port: 80}
    blue: web-blue
    green: web-green
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    config = tmp_path_factory.mktemp("ops") / "autoheal.yaml"
    config.write_text(CONFIG)
    with World(str(config), tick_seconds=3600) as running:  # no schedule fires during the test
        yield running


def ops(world: World, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUTOHEAL_CONFIG": world.config_path}
    command = [sys.executable, "-m", "autoheal_ops", "--config", world.config_path, *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_world_answers_invoke_for_deployed_and_chalice_names(world):
    lambda_client = boto3.client("lambda", endpoint_url=world.urls()["AWS_ENDPOINT_URL_LAMBDA"])
    for name in ("autoheal-prod-maintenance", "maintenance"):
        answer = lambda_client.invoke(FunctionName=name, Payload=b'{"action": "status"}')
        assert "FunctionError" not in answer and json.loads(answer["Payload"].read())["mode"] in ("off", "on")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        lambda_client.invoke(FunctionName="autoheal-dev-nothing", Payload=b"{}")


def test_maintenance_and_status_reach_the_functions_through_the_command(world):
    before = len(world.runtime.invocations)
    on = ops(world, "maintenance", "on", "--message", "Upgrading", "--for", "10m")
    assert on.returncode == 0, on.stderr
    reached = world.runtime.invocations[before:]  # the status first: a shorter window is warned of
    assert [i.function for i in reached] == ["maintenance"] * 2 and json.loads(on.stdout) == reached[1].result
    assert json.loads(on.stdout)["mode"] == "on"
    status = json.loads(ops(world, "status").stdout)
    assert status["maintenance"]["mode"] == "on" and status["deployments"]["web"]["deployment"] == "web"
    assert sorted(i.function for i in world.runtime.invocations[before + 2 :]) == [
        "maintenance",
        "shift_traffic",
    ]
    off = ops(world, "maintenance", "off")
    assert off.returncode == 0 and json.loads(off.stdout)["mode"] == "off"


def test_an_incident_is_listed_and_resolved_by_hand_with_a_note(world):
    world.runtime.invoke("on_alarm", json.loads((ROOT / "events" / "alarm-probe-down.json").read_text()))
    listed = json.loads(ops(world, "incidents").stdout)
    assert [i["incident"] for i in listed if i["status"] == "open"] == ["component/web"]  # no runbook
    done = ops(world, "resolve", "component/web", "--note", "restarted the database by hand")
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)
    assert (
        resolved["status"] == "resolved"
        and "resolved by hand: restarted the database by hand" in resolved["story"][-1]
    )
    assert not [i for i in json.loads(ops(world, "incidents").stdout) if i["status"] == "open"]
    again = ops(world, "resolve", "component/web", "--note", "twice")
    assert again.returncode != 0 and "no open incident" in again.stderr


def test_notify_test_reaches_every_channel(world):
    before = len(world.chat.messages)
    done = ops(world, "notify-test")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"sent": ["email", "sms", "chat"], "failed": []}
    assert len(world.chat.messages) == before + 1 and "autoheal test" in json.dumps(world.chat.messages[-1])
    sqs, bodies = world.moto.client("sqs"), []
    for _ in range(20):  # the incidents before this test left notices on the queue too
        found = sqs.receive_message(QueueUrl=world.resources.notify_queue_url, MaxNumberOfMessages=10)
        bodies += [m["Body"] for m in found.get("Messages", [])]
        if not found.get("Messages"):
            break
    assert any("autoheal test" in body for body in bodies)


def test_a_refused_shift_comes_back_as_the_functions_answer(world):
    done = ops(world, "shift", "promote", "--deployment", "web")
    assert done.returncode == 2 and "error" in json.loads(done.stdout)
    assert done.stderr == "shift: deployment 'web' is idle: nothing to promote\n"


def test_check_live_finds_what_the_config_names_and_reports_what_is_missing(world, tmp_path):
    assert ops(world, "check", "--live").returncode == 0
    missing = tmp_path / "missing.yaml"
    missing.write_text(CONFIG.replace("green: web-green", "green: web-purple"))
    done = ops(world, "--config", str(missing), "check", "--live")
    assert done.returncode != 0
    assert "deployments.web.green: target group web-purple: not found" in done.stderr


def test_check_live_names_a_subscription_without_a_channel_filter(world):
    sns = boto3.client("sns", endpoint_url=world.urls()["AWS_ENDPOINT_URL"])
    topic = world.resources.notify_topic_arn
    arn = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")["SubscriptionArn"]
    try:
        done = ops(world, "check", "--live")
        assert done.returncode != 0
        assert f"the email subscription ...{arn[-8:]}" in done.stderr
        assert "no filter policy on channel" in done.stderr and "ops@example.com" not in done.stderr
        assert done.stderr.count(arn[-8:]) == 2  # named once (its id, then the fix's ARN), not twice
    finally:
        sns.unsubscribe(SubscriptionArn=arn)
    assert ops(world, "check", "--live").returncode == 0


def test_a_sample_that_acts_in_prod_asks_and_sends_nothing_unless_confirmed(world):
    sent = []

    class Recording(Functions):
        def call(self, function, payload):
            sent.append(function)
            return {}

    args = parser().parse_args(["--stage", "prod", "invoke", str(ROOT / "events" / "maintenance-on.json")])
    with pytest.raises(Refused, match="not confirmed"):
        invoke(args, Recording("prod"), ask=lambda prompt: "yes")
    assert sent == []
    invoke(args, Recording("prod"), ask=lambda prompt: "prod")
    quiet = parser().parse_args(
        ["--stage", "prod", "invoke", str(ROOT / "events" / "maintenance-status.json")]
    )
    invoke(quiet, Recording("prod"), ask=lambda prompt: pytest.fail("a read-only sample asked"))
    assert sent == ["maintenance", "maintenance"]


def test_every_sample_in_events_says_its_function_and_what_it_does():
    from autoheal_ops.stage import functions

    index = json.loads((ROOT / "events" / "index.json").read_text())
    assert sorted(index) == sorted(p.name for p in (ROOT / "events").glob("*.json") if p.name != "index.json")
    assert all(
        s["function"] in functions() and s["does"] and isinstance(s["acts"], bool) for s in index.values()
    )


def test_abort_after_promote_says_nothing_was_in_flight(world):
    assert ops(world, "shift", "start", "--deployment", "web").returncode == 0
    assert ops(world, "shift", "promote", "--deployment", "web").returncode == 0
    done = ops(world, "shift", "abort", "--deployment", "web")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "nothing in flight: web is promoted\n"


def test_a_second_maintenance_on_that_ends_sooner_is_a_warning(world):
    assert ops(world, "maintenance", "on", "--for", "2h").returncode == 0
    try:
        done = ops(world, "maintenance", "on", "--for", "10m")
        assert done.returncode == 0, done.stderr
        assert done.stderr.startswith("warning: maintenance now ends at "), done.stderr
        longer = ops(world, "maintenance", "on", "--for", "1h")
        assert longer.returncode == 0 and longer.stderr == ""
    finally:
        ops(world, "maintenance", "off")
