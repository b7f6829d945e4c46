"""The blue/green tests' world: moto in server mode as AWS, with an ALB, two target groups of
running instances, a listener on 443 forwarding to blue and a test listener on 8080.

Time is a clock the test turns; AWS is never mocked. Faults (a wrong read-back, a crash after a
chosen call) are injected with botocore event hooks on the real clients.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.aws.clients import client, table
from chalicelib.aws.elbv2 import Elbv2, forward_of, mutating_client
from chalicelib.config import parse_config
from chalicelib.config.model import Config
from chalicelib.deployments.shifter import Refused, Shifter
from chalicelib.notify.notice import Notice
from chalicelib.state.store import StateStore
from chalicelib.state.thresholds import MonitorState
from sandbox.fleet import DEFAULT_AMI
from sandbox.moto_server import MotoServer
from sandbox.provision import create_table
from tests.conftest import SETTINGS

DEPLOYMENT = """
monitors:
  - name: web
    url: http://127.0.0.1:9/healthz
deployments:
  web:
    listener: {load_balancer: web-alb, port: 443}
    blue: web-blue
    green: web-green
    strategy: canary
    steps: [10, 50, 100]
    step_interval: 5m
    test_listener: {port: 8080}
    gates: {monitors: [web], alarms: ["web-5xx-*"]EXTRA}
MORE"""
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class World:
    config: Config
    clock: Clock
    notices: list[Notice]
    listener_arn: str
    test_listener_arn: str
    groups: dict[str, str]  # name -> ARN
    instances: dict[str, list[str]]  # group name -> instance ids
    lb_arn: str
    shifter: Shifter = field(init=False)

    def __post_init__(self) -> None:
        self.shifter = self.new_shifter()

    def new_shifter(self) -> Shifter:
        shifter = wiring.build_shifter(self.config, notify=self.notices.append)
        shifter.clock = self.clock
        return shifter

    @property
    def web(self):
        return self.config.deployments["web"]

    def weights(self, listener: str | None = None) -> dict[str, int]:
        forward = forward_of(Elbv2().default_actions(listener or self.listener_arn))
        assert forward is not None
        names = {arn: name for name, arn in self.groups.items()}
        return {names[arn]: w for arn, w in forward.weights.items() if w}

    def sticky(self) -> bool:
        forward = forward_of(Elbv2().default_actions(self.listener_arn))
        assert forward is not None
        return forward.sticky

    def reset_state(self) -> None:
        """Back to the start without rebuilding AWS: no deployment, no lease, blue serving."""
        state = table(self.config.settings.state_table)
        with state.batch_writer() as batch:
            for item in state.scan(ProjectionExpression="pk, sk")["Items"]:
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
        elb = Elbv2()
        elb.set_default_actions(self.listener_arn, [initial_forward(self.groups["web-blue"])])
        blue = {"Type": "forward", "TargetGroupArn": self.groups["web-blue"]}
        elb.set_default_actions(self.test_listener_arn, [blue])
        self.notices.clear()
        self.monitor("UP")

    def monitor(self, status: str) -> None:
        StateStore(self.config.settings.state_table).save(
            {"web": MonitorState(status=status, since=self.clock())}
        )

    def stop_instance(self, group: str) -> None:
        client("ec2").stop_instances(InstanceIds=self.instances[group][:1])

    def alarm(self, name: str, state: str = "ALARM") -> None:
        cloudwatch = client("cloudwatch")
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="HTTPCode_Target_5XX_Count",
            Namespace="AWS/ApplicationELB",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=5,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def aws_clients() -> list[Any]:
    """Every client the shifter talks through (hooks go on each)."""
    return [client("elbv2"), mutating_client(), table("autoheal-state").meta.client, client("cloudwatch")]


class CallLog:
    """Counts AWS calls by operation with a botocore `before-call` hook."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, model: Any = None, **_: Any) -> None:
        self.calls.append(model.name)

    def __enter__(self) -> CallLog:
        for c in aws_clients():
            c.meta.events.register("before-call", self, unique_id=f"calllog-{id(self)}")
        return self

    def __exit__(self, *exc: object) -> None:
        for c in aws_clients():
            c.meta.events.unregister("before-call", unique_id=f"calllog-{id(self)}")


class Crash(BaseException):
    """The Lambda died right after an AWS call returned (no `except Exception` may catch it)."""


class CrashAfter:
    """Raise Crash once, right after the `n`-th AWS call (0-based) made while active."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = itertools.count()
        self.fired = False

    def __call__(self, model: Any = None, **_: Any) -> None:
        if not self.fired and next(self.count) == self.n:
            self.fired = True
            raise Crash(f"crash after call {self.n}: {model.name}")

    def __enter__(self) -> CrashAfter:
        for c in aws_clients():
            c.meta.events.register("after-call", self, unique_id=f"crash-{id(self)}")
        return self

    def __exit__(self, *exc: object) -> None:
        for c in aws_clients():
            c.meta.events.unregister("after-call", unique_id=f"crash-{id(self)}")


def died_in(call: Callable[[], Any], crash: int | None) -> bool:
    """Run `call` as one invocation that dies right after its `crash`-th AWS call (None: it
    lives); True when it died. A refused request is an answer, not a death."""
    try:
        if crash is None:
            call()
        else:
            with CrashAfter(crash):
                call()
    except Refused:
        return False
    except Crash:
        return True
    return False


def initial_forward(blue_arn: str) -> dict[str, Any]:
    """Blue serves everything, with stickiness on (1h), as users run it today."""
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": blue_arn, "Weight": 100}],
            "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 3600},
        },
    }


def build_world(config: Config, with_table: bool = True) -> World:
    if with_table:
        create_table(config.settings.state_table)
    ec2, elb = client("ec2"), client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")[
            "Subnet"
        ]["SubnetId"]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    lb_arn = elb.create_load_balancer(Name="web-alb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    groups, instances = {}, {}
    image = DEFAULT_AMI
    for name in ("web-blue", "web-green"):
        arn = elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance")[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2)["Instances"]]
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": i, "Port": 80} for i in ids])
        groups[name], instances[name] = arn, ids
    forward = initial_forward(groups["web-blue"])
    listener = elb.create_listener(
        LoadBalancerArn=lb_arn, Protocol="HTTP", Port=443, DefaultActions=[forward]
    )
    test_listener = elb.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTP",
        Port=8080,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups["web-blue"]}],
    )
    return World(
        config,
        Clock(),
        [],
        listener["Listeners"][0]["ListenerArn"],
        test_listener["Listeners"][0]["ListenerArn"],
        groups,
        instances,
        lb_arn,
    )


@pytest.fixture
def make_world(local_aws: MotoServer) -> Iterator[Callable[..., World]]:
    """make_world(extra_gates="", more="") -> a fresh world; `extra_gates` is YAML added to the
    gates, `more` more deployments."""

    def _make(extra_gates: str = "", monitor: str = "UP", more: str = "") -> World:
        config = parse_config(SETTINGS + DEPLOYMENT.replace("EXTRA", extra_gates).replace("MORE", more))
        world = build_world(config)
        world.monitor(monitor)
        return world

    yield _make
    wiring.reset()


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()
