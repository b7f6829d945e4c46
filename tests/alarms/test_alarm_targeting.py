"""What an alarm names decides what a run may touch: an empty dimension names nothing (never the
whole tier), and a target group that no longer exists is told to people, not retried forever.

Through the on_alarm function, against moto in server mode (tests/conftest.py's `deploy`), with
real-shaped CloudWatch notifications from events/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from chalice.local import LambdaContext

from chalicelib.aws.clients import client
from chalicelib.aws.errors import describe_error, is_permanent, is_transient
from chalicelib.runbooks.incident_store import IncidentStore
from chalicelib.runbooks.scope import SignalScope
from sandbox.fleet import launch_instances

from .samples import load_event

RUNBOOK = """
monitors:
  - name: web
    url: http://127.0.0.1:9/healthz
    timeout: 1s
    retries: 0
alarms:
  - match: "web-*"
    runbook: restart-web
runbooks:
  restart-web:
    targets: {tag: {app: web}}
    budget: {max_runs: 10, per: 30m}
    steps:
      - restart: {service: web, manager: systemd}
      - verify: {monitors: [web], within: 1s}
      - escalate: {}
"""
GONE = "targetgroup/web-old/0123456789abcdef"  # deleted long ago; its alarm was left behind
ALB = "app/web-alb/50dc6c495c0c9188"


@dataclass
class AlarmWorld:
    app: Any
    deployment: Any
    instances: dict[str, str]

    def on_alarm(self, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext("on_alarm", memory_size=256, max_runtime_ms=60_000)
        return self.app.handler_map["on_alarm"](event, context)

    def commands(self) -> list[dict[str, Any]]:
        return client("ssm").list_commands()["Commands"]

    def told(self) -> str:
        """Everything people were sent since the last call, as one text."""
        queue = self.deployment.resources.notify_queue_url
        return "\n".join(envelope["Message"] for envelope in self.deployment.drain(queue))

    def incident(self, key: str) -> Any:
        return IncidentStore(self.deployment.app.config.settings.state_table).get(key)


@pytest.fixture
def world(deploy) -> Iterator[AlarmWorld]:
    deployment = deploy(RUNBOOK)
    instances = launch_instances(client("ec2"), [("blue-1", "blue"), ("blue-2", "blue")])
    yield AlarmWorld(deployment.app.app, deployment, instances)


def alarm(message_id: str, dimensions: list[dict[str, str]], name: str = "web-5xx-high") -> dict[str, Any]:
    """events/alarm-metric-alarm.json, renamed to a web-* alarm with the given dimensions."""
    event = load_event("alarm-metric-alarm.json")
    sns = event["Records"][0]["Sns"]
    body = json.loads(sns["Message"])
    body["AlarmName"] = name
    body["Trigger"]["Dimensions"] = dimensions
    sns["Message"], sns["MessageId"] = json.dumps(body), message_id
    return event


def target_group_alarm(message_id: str) -> dict[str, Any]:
    """An ALB 5xx alarm on a target group, as CloudWatch sends it."""
    event = alarm(
        message_id, [{"value": GONE, "name": "TargetGroup"}, {"value": ALB, "name": "LoadBalancer"}]
    )
    sns = event["Records"][0]["Sns"]
    body = json.loads(sns["Message"])
    body["Trigger"].update(
        Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count", Statistic="SUM"
    )
    sns["Message"] = json.dumps(body)
    return event


# --- an empty dimension names nothing ----------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_instance_id_acts_on_nothing_and_says_why(world: AlarmWorld, value: str) -> None:
    dims = [{"value": value, "name": "InstanceId"}, {"value": "web-blue", "name": "AutoScalingGroupName"}]

    out = world.on_alarm(alarm("empty-1", dims))

    [handled] = out["handled"]
    assert world.commands() == []  # not the whole tier, not the group beside it
    assert (handled["incident"], handled["status"], handled["run"]) == (
        "restart-web/empty:InstanceId",
        "open",
        "escalated",
    )
    why = "the alarm's InstanceId dimension is empty: it names no target; nothing was done"
    assert why in world.told()
    assert any(why in line for line in handled["story"])


def test_an_alarm_naming_nothing_does_not_hold_the_tiers_incident(world: AlarmWorld) -> None:
    world.on_alarm(alarm("empty-2", [{"value": "", "name": "InstanceId"}]))
    assert world.commands() == []

    out = world.on_alarm(alarm("tier-1", [], name="web-cpu-high"))  # one for the whole tier

    [handled] = out["handled"]
    assert handled["incident"] == "restart-web/*" and handled["runbook"] == "restart-web"
    assert {i for c in world.commands() for i in c["InstanceIds"]} == set(world.instances.values())


@pytest.mark.parametrize(
    ("dimensions", "problem"),
    [
        ({"InstanceId": ""}, "the alarm's InstanceId dimension is empty: it names no target"),
        (
            {"InstanceId": "\t", "TargetGroup": "targetgroup/web/1"},
            "the alarm's InstanceId dimension is empty",
        ),
        (
            {"AutoScalingGroupName": " ", "TargetGroup": ""},
            "the alarm's AutoScalingGroupName and TargetGroup dimensions are empty: it names no target",
        ),
        ({"InstanceId": "i-0b"}, None),
        ({}, None),
    ],
)
def test_a_blank_scope_dimension_names_nothing(dimensions: dict[str, str], problem: Optional[str]) -> None:
    scope = SignalScope.from_dimensions(dimensions)
    assert (scope.problem or "").startswith(problem or "") and bool(scope.problem) == bool(problem)
    if problem:  # it names nothing: no instance, group or target group to look up
        assert scope.is_narrow and (scope.instance_ids, scope.auto_scaling_group, scope.target_group) == (
            (),
            None,
            None,
        )


# --- a permanent AWS error: told, not retried ----------------------------------------------------


def test_an_alarm_naming_a_deleted_target_group_tells_people_and_does_not_raise(world: AlarmWorld) -> None:
    out = world.on_alarm(target_group_alarm("gone-1"))  # raised TargetGroupNotFound before

    [handled] = out["handled"]
    assert world.commands() == []
    assert (handled["incident"], handled["status"], handled["run"]) == (
        f"restart-web/{GONE}",
        "open",
        "escalated",
    )
    told = world.told()
    assert f"restart-web did not act on target group {GONE}, which web-5xx-high names" in told
    assert "TargetGroupNotFound" in told and "nothing was done" in told

    again = world.on_alarm(target_group_alarm("gone-1"))  # a redelivery acts (and tells) once
    assert again["handled"][0]["run"] == "escalated" and world.told() == ""


class Unavailable:
    """Answers every request of one ELB operation with an error, as ELB does when it is in trouble."""

    def __init__(self, status: int, code: str) -> None:
        self.status, self.code, self.seen = status, code, 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.seen += 1
        body = (
            f"<ErrorResponse><Error><Type>Receiver</Type><Code>{self.code}</Code>"
            "<Message>injected</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
        ).encode()
        return AWSResponse(request.url, self.status, {"Content-Type": "text/xml"}, Body(body))


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


@pytest.mark.parametrize(("status", "code"), [(503, "ServiceUnavailable"), (400, "Throttling")])
def test_a_transient_error_still_raises_so_lambda_retries(world: AlarmWorld, status: int, code: str) -> None:
    events = client("elbv2").meta.events
    name = f"before-send.{client('elbv2').meta.service_model.service_id.hyphenize()}.DescribeTargetGroups"
    fault = Unavailable(status, code)
    events.register(name, fault, unique_id="unavailable")
    try:
        with pytest.raises(ClientError, match=code):
            world.on_alarm(target_group_alarm("busy-1"))
    finally:
        events.unregister(name, unique_id="unavailable")
    assert fault.seen >= 1 and world.commands() == []
    incident = world.incident(f"restart-web/{GONE}")
    assert incident is not None and incident.run is None  # the retry starts the run afresh


# --- the classification others use ---------------------------------------------------------------


def client_error(code: str, status: int = 400, operation: str = "DescribeTargetGroups") -> ClientError:
    response = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "code",
    [
        "TargetGroupNotFound",
        "InvalidInstanceID.NotFound",
        "ResourceNotFoundException",
        "NoSuchBucket",
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "ValidationError",
        "InvalidParameterValue",
    ],
)
def test_not_found_denied_and_invalid_are_permanent(code: str) -> None:
    error = client_error(code)
    assert (is_permanent(error), is_transient(error)) == (True, False)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttling", 400),
        ("ThrottlingException", 400),
        ("RequestLimitExceeded", 503),
        ("ProvisionedThroughputExceededException", 400),
        ("InternalError", 500),
        ("SomethingNew", 502),
        ("TargetGroupNotFound", 503),  # a 5xx is never a verdict
        ("TooManyRequests", 429),
    ],
)
def test_throttling_and_5xx_are_transient(code: str, status: int) -> None:
    error = client_error(code, status)
    assert (is_permanent(error), is_transient(error)) == (False, True)


def test_timeouts_and_other_failures_are_not_permanent() -> None:
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

    for error in (
        ReadTimeoutError(endpoint_url="https://elb"),
        ConnectTimeoutError(endpoint_url="https://elb"),
        EndpointConnectionError(endpoint_url="https://elb"),
    ):
        assert (is_permanent(error), is_transient(error)) == (False, True)
    for error in (client_error("ConditionalCheckFailedException"), RuntimeError("bug"), ValueError("x")):
        assert (is_permanent(error), is_transient(error)) == (False, False)  # the caller's usual path


def test_a_permanent_error_reads_as_the_operation_and_code() -> None:
    assert (
        describe_error(client_error("TargetGroupNotFound")) == "DescribeTargetGroups: TargetGroupNotFound (m)"
    )
