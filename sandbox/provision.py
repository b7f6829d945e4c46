"""Create, in the local AWS, every resource a config names: the same ones resources/ deploys.

:func:`provision` deploys the stage's resources template itself to the local CloudFormation
(sandbox.stack), so the local world runs the very table, topics, bucket and documents that are
deployed. The helpers below create single resources for tests that need only one. Each
deployment's load balancer, target groups (health check ``/healthz``) and listener are created
by :func:`provision_load_balancers`, the fleet registered by color (blue-* to blue, green-* to
green) and the listener forwarding 100% to blue.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Optional

import yaml

import chalicelib.plugins  # noqa: F401 - the built-in kinds, registered
from chalicelib.aws.clients import client
from chalicelib.config.kinds import uses
from chalicelib.config.model import Config, Deployment
from sandbox.stack import deploy_local

TEMPLATE = Path(__file__).resolve().parent.parent / "resources" / "autoheal.yaml"
HEALTH_CHECK = {
    "HealthCheckPath": "/healthz",
    "HealthCheckIntervalSeconds": 5,
    "HealthCheckTimeoutSeconds": 2,
    "HealthyThresholdCount": 2,
    "UnhealthyThresholdCount": 2,
    "Matcher": {"HttpCode": "200"},
}
STICKINESS_SECONDS = 3600  # clients stay on their target group across weight changes, as users' do


@dataclass(frozen=True)
class Provisioned:
    alarm_topic_arn: str
    notify_topic_arn: str
    alarm_queue_url: str  # the runtime's stand-in for the on_alarm subscription
    notify_queue_url: str  # what e-mail subscribers would have received
    sms_queue_url: str = ""  # what SMS subscribers would have received


def provision(config: Config, chat_webhook_url: Optional[str] = None) -> Provisioned:
    """The shipped resources template as the local stack (sandbox.stack), then what it cannot
    hold: the diagnostics bucket's privacy and lifecycle, what each kind the config uses
    provisions for itself (the chat channel's webhook, a SecureString), and the queues that
    stand in for the on_alarm function's and people's subscriptions."""
    outputs = deploy_local(config)
    keep_private(outputs["DiagnosticsBucketName"], document_properties("DiagnosticsBucket"))
    alarm_topic, notify_topic = outputs["AlarmTopicArn"], outputs["NotifyTopicArn"]
    local = {"chat_webhook_url": chat_webhook_url} if chat_webhook_url else {}
    for use in uses(config):
        use.kind.provision(use.params, config, local)
    return Provisioned(
        alarm_topic,
        notify_topic,
        subscribed_queue(alarm_topic, "autoheal-on-alarm"),
        subscribed_queue(notify_topic, "autoheal-people", channel="email"),
        subscribed_queue(notify_topic, "autoheal-people-sms", channel="sms"),
    )


def keep_private(bucket: str, properties: Mapping[str, Any]) -> None:
    """What moto's CloudFormation ignores of the diagnostics bucket, from the template's own
    properties: object ownership and the lifecycle that expires diagnoses (its Block Public
    Access is applied by the patched CloudFormation, `sandbox/moto_server.py`)."""
    s3 = client("s3")
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": list(properties["OwnershipControls"]["Rules"])}
    )
    rules = [
        {
            "ID": rule["Id"],
            "Status": rule["Status"],
            "Filter": {"Prefix": rule.get("Prefix", "")},
            "Expiration": {"Days": rule["ExpirationInDays"]},
            "AbortIncompleteMultipartUpload": dict(rule["AbortIncompleteMultipartUpload"]),
        }
        for rule in properties["LifecycleConfiguration"]["Rules"]
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})


class Member(NamedTuple):
    """A fleet instance as the load balancer sees it."""

    instance_id: str
    color: str  # blue | green: the target group it joins
    port: int  # where its app listens on 127.0.0.1


@dataclass(frozen=True)
class Listener:
    load_balancer: str
    port: int
    arn: str


def provision_load_balancers(
    deployments: Mapping[str, Deployment], members: Sequence[Member]
) -> list[Listener]:
    """For each deployment: its load balancer (once per name), blue and green target groups with
    the fleet registered by color, and its listener forwarding 100% to blue (weights 100/0, so
    both groups are named); an optional ``test_listener`` forwards 100% to green."""
    subnets = _network()
    balancers: dict[str, str] = {}
    listeners = []
    for deployment in deployments.values():
        name = deployment.listener.load_balancer
        if name not in balancers:
            balancers[name] = create_load_balancer(name, subnets)
        blue = create_target_group(deployment.blue, subnets[0][1], [m for m in members if m.color == "blue"])
        green = create_target_group(
            deployment.green, subnets[0][1], [m for m in members if m.color == "green"]
        )
        port = deployment.listener.port
        listeners.append(Listener(name, port, create_listener(balancers[name], port, {blue: 100, green: 0})))
        test_port = _test_listener_port(deployment)
        if test_port:
            listeners.append(
                Listener(name, test_port, create_listener(balancers[name], test_port, {green: 100}))
            )
    return listeners


def create_load_balancer(name: str, subnets: list[tuple[str, str]]) -> str:
    created = client("elbv2").create_load_balancer(
        Name=name, Subnets=[subnet for subnet, _ in subnets], Type="application", Scheme="internet-facing"
    )
    return str(created["LoadBalancers"][0]["LoadBalancerArn"])


def create_target_group(name: str, vpc_id: str, members: Sequence[Member]) -> str:
    """An HTTP target group checked on /healthz, with ``members`` registered on their own ports."""
    elbv2 = client("elbv2")
    arn = str(
        elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc_id, **HEALTH_CHECK)[
            "TargetGroups"
        ][0]["TargetGroupArn"]
    )
    if members:
        elbv2.register_targets(
            TargetGroupArn=arn, Targets=[{"Id": m.instance_id, "Port": m.port} for m in members]
        )
    return arn


def create_listener(balancer_arn: str, port: int, weights: Mapping[str, int]) -> str:
    action = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights.items()],
            "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": STICKINESS_SECONDS},
        },
    }
    created = client("elbv2").create_listener(
        LoadBalancerArn=balancer_arn, Protocol="HTTP", Port=port, DefaultActions=[action]
    )
    return str(created["Listeners"][0]["ListenerArn"])


def _network() -> list[tuple[str, str]]:
    """Two subnets in two zones (an ALB needs them): [(subnet id, vpc id)]."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    return [
        (
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=zone)["Subnet"][
                "SubnetId"
            ],
            vpc,
        )
        for i, zone in enumerate(("us-east-1a", "us-east-1b"))
    ]


def _test_listener_port(deployment: Deployment) -> int | None:
    """The optional test listener's port, however the config model spells it."""
    test = getattr(deployment, "test_listener", None)
    if test is None:
        return None
    port = test.get("port") if isinstance(test, Mapping) else getattr(test, "port", None)
    return int(port) if port else None


def create_table(name: str, dynamodb: Any = None) -> None:
    """The state table's shape (pk, sk; on demand), through `dynamodb` (this region's client by default)."""
    (dynamodb or client("dynamodb")).create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )


def document_properties(resource: str) -> dict[str, Any]:
    """A resource of the template (an SSM document, a bucket), as CloudFormation would create it."""
    template = yaml.load(TEMPLATE.read_text(), Loader=cfn_loader())
    return template["Resources"][resource]["Properties"]


def restart_document_content() -> dict[str, Any]:
    return document_properties("RestartDocument")["Content"]


def create_shipped_document(resource: str, stage: str = "local") -> str:
    """Create the template's document `resource` under the stage's name for it; returns the name."""
    properties = document_properties(resource)
    name = properties["Name"]
    name = name["Sub"].replace("${Stage}", stage) if isinstance(name, dict) else name
    create_document(name, properties["Content"])
    return name


def create_document(name: str, content: dict[str, Any]) -> None:
    client("ssm").create_document(
        Name=name, DocumentType="Command", DocumentFormat="JSON", Content=json.dumps(content)
    )


def subscribed_queue(topic_arn: str, name: str, channel: Optional[str] = None) -> str:
    """A queue subscribed to the topic; with `channel`, by the filter policy a person's
    subscription of that channel has (resources/autoheal.yaml)."""
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"FilterPolicy": json.dumps({"channel": [channel]})} if channel else {}
    client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return url


def cfn_loader() -> type:
    """A YAML loader that reads CloudFormation's short tags (!Ref, !Sub, ...) as plain data."""

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return {suffix: loader.construct_scalar(node)}
        if isinstance(node, yaml.SequenceNode):
            return {suffix: loader.construct_sequence(node)}
        return {suffix: loader.construct_mapping(node)}

    Loader.add_multi_constructor("!", tagged)
    return Loader
