"""Create, in the local AWS, every resource a config names: the same ones resources/ deploys.

The restart document is read from resources/autoheal.yaml, so the local world runs the very
document that is deployed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from chalicelib.aws.clients import client
from chalicelib.config.model import Config

TEMPLATE = Path(__file__).resolve().parent.parent / "resources" / "autoheal.yaml"


@dataclass(frozen=True)
class Provisioned:
    alarm_topic_arn: str
    notify_topic_arn: str
    alarm_queue_url: str  # the runtime's stand-in for the on_alarm subscription
    notify_queue_url: str  # what people would have received (e-mail / SMS subscribers)


def provision(config: Config, chat_webhook_url: Optional[str] = None) -> Provisioned:
    settings = config.settings
    create_table(settings.state_table)
    alarm_topic = client("sns").create_topic(Name=settings.alarm_topic)["TopicArn"]
    notify_topic = client("sns").create_topic(Name=settings.notify_topic)["TopicArn"]
    client("s3").create_bucket(Bucket=settings.status_bucket)
    create_restart_document(settings.restart_document)
    if chat_webhook_url and settings.chat_webhook_parameter:
        client("ssm").put_parameter(
            Name=settings.chat_webhook_parameter, Value=chat_webhook_url, Type="SecureString", Overwrite=True
        )
    return Provisioned(
        alarm_topic,
        notify_topic,
        subscribed_queue(alarm_topic, "autoheal-on-alarm"),
        subscribed_queue(notify_topic, "autoheal-people"),
    )


def create_table(name: str) -> None:
    client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )


def restart_document_content() -> dict[str, Any]:
    template = yaml.load(TEMPLATE.read_text(), Loader=cfn_loader())
    return template["Resources"]["RestartDocument"]["Properties"]["Content"]


def create_restart_document(name: str) -> None:
    client("ssm").create_document(
        Name=name,
        DocumentType="Command",
        DocumentFormat="JSON",
        Content=json.dumps(restart_document_content()),
    )


def subscribed_queue(topic_arn: str, name: str) -> str:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
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
