"""Per-component subscriptions end to end on the local AWS: the status page's form posted over
HTTP to the deployed app's route on Chalice's local server, a pending e-mail subscription with
the component's filter, and incidents reaching only their components' subscribers, in public words."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.config import Config as ChaliceConfig
from chalice.local import LambdaContext, create_local_server

from chalicelib import wiring
from chalicelib.aws.clients import client, topic_arn
from chalicelib.notify.notice import Notice
from chalicelib.notify.sns import SnsNotifier
from chalicelib.subscriptions.announce import PublicNotices
from chalicelib.subscriptions.form import FormError, read_form
from chalicelib.subscriptions.route import FORM_TYPE, PATH
from chalicelib.subscriptions.service import PER_DAY, filter_policy

EVENTS = Path(__file__).resolve().parents[2] / "events"
MONITORS = """monitors:
  - {name: web, url: 'http://127.0.0.1:9/healthz', component: Website}
  - {name: api, url: 'http://127.0.0.1:9/api/healthz', component: API}
"""


@pytest.fixture
def served(deploy) -> Iterator[tuple[Any, str]]:
    """autoheal deployed, and its app.py's routes on Chalice's local server: the form's URL."""
    deployment = deploy(MONITORS)
    server = create_local_server(deployment.app.app, ChaliceConfig.create(), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server.server_address[:2]
    try:
        yield deployment, f"http://{host}:{port}{PATH}"
    finally:
        server.shutdown()


def post(url: str, body: bytes) -> tuple[int, str]:
    """The form's plain POST, as a browser sends it without JavaScript."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": FORM_TYPE}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def email_subscriptions(topic: str) -> dict[str, dict]:
    """Each address's subscription, with its attributes as SNS holds them."""
    sns = client("sns")
    found = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    return {
        s["Endpoint"]: sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])["Attributes"]
        for s in found
        if s["Protocol"] == "email"
    }


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


def test_the_form_to_a_notice_for_the_chosen_component_only(served, httpserver):
    """Form -> route -> pending subscription with the component's filter -> an incident of that
    component reaches the address, one of another component does not."""
    deployment, route = served
    assert post(route, b"email=ana%40example.com&component=Website")[0] == 202
    status, page = post(route, b"email=bo%40example.com&component=API")
    assert status == 202 and "Check bo@example.com: follow the link" in page
    assert post(route, b"email=cy%40example.com&component=Nope")[0] == 400  # not a component of the page
    topic = topic_arn(wiring.config().settings.notify_topic)
    asked = email_subscriptions(topic)
    assert sorted(asked) == ["ana@example.com", "bo@example.com"]  # SNS mails each its confirmation
    policies = {address: json.loads(a["FilterPolicy"]) for address, a in asked.items()}
    assert policies == {
        "ana@example.com": {"audience": ["public"], "component": ["Website"]},
        "bo@example.com": {"audience": ["public"], "component": ["API"]},
    }
    # Each mailbox, once its address confirmed: moto delivers no e-mail, so an HTTP endpoint on
    # loopback stands in for it, subscribed with the filter SNS holds for that address.
    for address, attributes in asked.items():
        mailbox = httpserver.url_for(f"/{address.split('@')[0]}")
        client("sns").subscribe(
            TopicArn=topic,
            Protocol="http",
            Endpoint=mailbox,
            Attributes={"FilterPolicy": attributes["FilterPolicy"]},
        )
    httpserver.expect_request("/ana", method="POST").respond_with_data("")
    httpserver.expect_request("/bo", method="POST").respond_with_data("")

    def inbox(name: str) -> list[str]:
        return [json.loads(r.get_data())["Message"] for r, _ in httpserver.log if r.path == f"/{name}"]

    # web (component Website) goes down: the deployed on_alarm opens its incident.
    deployment.app.app.handler_map["on_alarm"](probe_alarm(), LambdaContext("on_alarm", 256, 60_000))
    [notice] = inbox("ana")
    assert notice.startswith("Incident: Website disrupted\nAffects: Website.")
    assert inbox("bo") == []
    # The page's notice of an API incident reaches bo alone.
    components = ["API", "Website"]
    PublicNotices(topic, components).announce({"title": "API disrupted", "components": ["API"]}, "opened")
    assert [m.split("\n")[0] for m in inbox("bo")] == ["Incident: API disrupted"]
    assert len(inbox("ana")) == 1
    assert all(r.method == "POST" for r, _ in httpserver.log) and len(httpserver.log) == 2


def test_an_address_may_ask_only_a_few_times_a_day(deploy):
    deploy(MONITORS)
    service = wiring.subscriptions()
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


def test_a_failing_subscribe_answers_500_and_is_counted_as_the_api_handlers(deploy, capsys):
    from chalice.local import LocalGateway

    deployment = deploy(MONITORS)
    client("sns").delete_topic(TopicArn=topic_arn(wiring.config().settings.notify_topic))
    gateway = LocalGateway(deployment.app.app, ChaliceConfig.create())
    answer = gateway.handle_request("POST", PATH, {"content-type": FORM_TYPE}, b"email=di%40example.com")
    assert answer["statusCode"] == 500
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    counted = [d for d in documents if "HandlerErrors" in d]
    assert [(d["Function"], d["HandlerErrors"]) for d in counted] == [("api_handler", [1.0])]
