"""SnsNotifier against moto in-process: an SQS queue subscribed to the topic reads it back."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chalicelib.notify import FanOut, SnsNotifier, email_subject, sns_message


@pytest.fixture
def topic_and_queue():
    with mock_aws():
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic = sns.create_topic(Name="autoheal-notify")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="notify-readback")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        yield topic, sqs, queue_url


def read_back(sqs, queue_url) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_publishes_the_story(topic_and_queue, notice):
    topic, sqs, queue_url = topic_and_queue
    SnsNotifier(topic).send(notice)  # default client: chalicelib.aws.clients
    [envelope] = read_back(sqs, queue_url)
    assert envelope["TopicArn"] == topic
    assert envelope["Subject"] == email_subject(notice) == "[autoheal] web is DOWN"
    # SQS subscribers get the "default" entry of the JSON structure: the whole story.
    assert envelope["Message"] == sns_message(notice)["default"]
    assert "21:03:04 DOWN: timeout after 5s" in envelope["Message"]


def test_unicode_and_hostile_text_survive(topic_and_queue, notice):
    topic, sqs, queue_url = topic_and_queue
    hostile = notice.__class__(kind="escalated", incident="web", title="web 高い \"quoted\"\n<b>&",
                               lines=("$(reboot); `id` | sh",))  # fmt: skip
    SnsNotifier(topic).send(hostile)
    [envelope] = read_back(sqs, queue_url)
    assert envelope["Subject"].isascii() and "\n" not in envelope["Subject"]
    assert "$(reboot); `id` | sh" in envelope["Message"]
    assert "高い" in envelope["Message"]


class RecordingClient:
    def __init__(self):
        self.calls = []

    def publish(self, **kwargs):
        self.calls.append(kwargs)
        return {"MessageId": "1"}


def test_publish_arguments(notice):
    client = RecordingClient()
    SnsNotifier("arn:aws:sns:us-east-1:123456789012:autoheal-notify", client=client).send(notice)
    [call] = client.calls
    assert call["MessageStructure"] == "json"
    assert call["Subject"] == "[autoheal] web is DOWN"
    message = json.loads(call["Message"])
    assert set(message) == {"default", "email", "sms"}
    assert message["sms"] == "autoheal: web is DOWN (down 3m 12s)"
    assert len(call["Message"].encode()) < 256 * 1024


def test_missing_topic_raises_and_fanout_reports_it(notice):
    with mock_aws():
        notifier = SnsNotifier("arn:aws:sns:us-east-1:123456789012:no-such-topic")
        with pytest.raises(ClientError):
            notifier.send(notice)
        assert FanOut([notifier]).send(notice) == ["SnsNotifier"]
