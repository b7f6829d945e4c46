"""Per-component subscriptions end to end on the local AWS: the form's POST through Chalice's
test client, a pending e-mail subscription with the component's filter, and an incident opened
through the deployed on_alarm reaching only that component's subscribers, in public words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chalice import Chalice
from chalice.local import LambdaContext
from chalice.test import Client

from chalicelib import wiring
from chalicelib.aws.clients import client, topic_arn
from chalicelib.notify.notice import Notice
from chalicelib.notify.sns import SnsNotifier
from chalicelib.subscriptions.form import FormError, read_form
from chalicelib.subscriptions.route import FORM_TYPE, register
from chalicelib.subscriptions.service import PER_DAY, Subscriptions, filter_policy

EVENTS = Path(__file__).resolve().parents[2] / "events"
MONITORS = """monitors:
  - {name: web, url: 'http://127.0.0.1:9/healthz', component: Website}
  - {name: api, url: 'http://127.0.0.1:9/api/healthz', component: API}
"""
FORM = {"Content-Type": FORM_TYPE}


def subscriptions() -> Subscriptions:
    config = wiring.config()
    components = [m.component or m.name for m in config.monitors]
    return Subscriptions(topic_arn(config.settings.notify_topic), config.settings.state_table, components)


def stand_in(topic: str, name: str, components: list[str]) -> str:
    """A queue subscribed with the filter an address asking for `components` gets: SNS does not
    deliver e-mail locally, so this queue receives what that address would."""
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps(filter_policy(components))
    client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"FilterPolicy": policy})
    return url


def received(url: str) -> list[str]:
    messages = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"])["Message"] for m in messages]


def probe_alarm() -> dict:
    event = json.loads((EVENTS / "alarm-probe-down.json").read_text(encoding="utf-8"))  # monitor web
    event["Records"][0]["Sns"]["MessageId"] = "down-1"
    return event


def test_the_form_subscribes_an_address_pending_with_its_components_filter(deploy):
    deploy(MONITORS)
    app = Chalice("subscribe-under-test")
    register(app, subscriptions)
    with Client(app) as http:
        answer = http.http.post("/subscribe", headers=FORM, body=b"email=ana%40example.com&component=API")
        assert answer.status_code == 202 and "follow the link" in answer.body.decode()
        assert answer.headers["Content-Type"].startswith("text/html")
        bad = http.http.post("/subscribe", headers=FORM, body=b"email=ana%40example.com&component=Nope")
        assert bad.status_code == 400
    topic = topic_arn(wiring.config().settings.notify_topic)
    [mine] = [
        s
        for s in client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        if s["Protocol"] == "email"
    ]
    assert mine["Endpoint"] == "ana@example.com"
    attributes = client("sns").get_subscription_attributes(SubscriptionArn=mine["SubscriptionArn"])[
        "Attributes"
    ]
    assert json.loads(attributes["FilterPolicy"]) == {"audience": ["public"], "component": ["API"]}


def test_an_address_may_ask_only_a_few_times_a_day(deploy):
    deploy(MONITORS)
    service = subscriptions()
    outcomes = [service.handle(b"email=bo%40example.com", 1_750_000_000.0).status for _ in range(PER_DAY + 2)]
    assert outcomes == [202] * PER_DAY + [429, 429]
    assert service.handle(b"email=bo%40example.com", 1_750_000_000.0 + 86400).status == 202  # the next day


def test_an_incident_reaches_its_components_subscribers_only_in_public_words(deploy):
    deployment = deploy(MONITORS)
    topic = topic_arn(wiring.config().settings.notify_topic)
    website, api = stand_in(topic, "website-fans", ["Website"]), stand_in(topic, "api-fans", ["API"])
    everything = stand_in(topic, "all-fans", ["API", "Website"])
    deployment.drain(deployment.resources.notify_queue_url)
    deployment.app.app.handler_map["on_alarm"](probe_alarm(), LambdaContext("on_alarm", 256, 60_000))
    [notice] = received(website)
    assert notice.startswith("Incident: Website disrupted\nAffects: Website.")
    assert "app.example.com" not in notice and "timeout" not in notice  # the operators' story stays theirs
    assert received(api) == [] and len(received(everything)) == 1
    # An operators' notice (channel attribute, no audience) reaches operators, never subscribers.
    SnsNotifier(topic, "email").send(Notice("opened", "web", "web ALARM: timeout (i-0abc)"))
    operators = [e["Message"] for e in deployment.drain(deployment.resources.notify_queue_url)]
    assert len(operators) == 1 and "i-0abc" in operators[0]
    assert received(website) == [] and received(everything) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"email=",
        b"email=a%40b.example&email=c%40d.example",
        b"email=a%0a%40b.example",
        b"email=a b@c.example",
    ],
)
def test_the_form_refuses_what_is_not_one_address(body):
    with pytest.raises(FormError):
        read_form(body, ["API"])
