"""The subscribe form on the status page, with JavaScript off, posting to `POST /subscribe` on
Chalice's local server: the person reads the answer page, SNS holds a pending subscription."""

from __future__ import annotations

import json
import threading

import pytest
from chalice import Chalice
from chalice.config import Config as ChaliceConfig
from chalice.local import create_local_server

from chalicelib import wiring
from chalicelib.aws.clients import client, topic_arn
from chalicelib.statuspage.render import render_index
from chalicelib.subscriptions.route import register
from chalicelib.subscriptions.service import Subscriptions
from tests.statuspage.page_server import PageServer
from tests.statuspage.samples import page_status

pytestmark = pytest.mark.browser
MONITORS = """monitors:
  - {name: web, url: 'http://127.0.0.1:9/healthz', component: Website}
  - {name: api, url: 'http://127.0.0.1:9/api/healthz', component: API}
"""


def test_a_person_subscribes_to_one_component_without_javascript(deploy, browser):
    deploy(MONITORS)
    config = wiring.config()
    topic = topic_arn(config.settings.notify_topic)
    app = Chalice("subscribe-under-test")
    register(app, lambda: Subscriptions(topic, config.settings.state_table, ["Website", "API"]))
    server = create_local_server(app, ChaliceConfig.create(), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server.server_address[:2]
    site = PageServer()
    document = page_status()
    page_html = render_index(document, subscribe_url=f"http://{host}:{port}/subscribe")
    site.set("/index.html", 200, page_html, "text/html; charset=utf-8")
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site.url("/index.html"))
        page.fill("#sub-email", "ana@example.com")
        page.check("#sub-api")
        page.click("form button[type=submit]")
        page.wait_for_url(f"http://{host}:{port}/subscribe")
        assert "Check ana@example.com: follow the link" in page.inner_text("main")
    finally:
        context.close()
        site.stop()
        server.shutdown()
    [mine] = [
        s
        for s in client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        if s["Protocol"] == "email"
    ]
    policy = client("sns").get_subscription_attributes(SubscriptionArn=mine["SubscriptionArn"])
    assert mine["Endpoint"] == "ana@example.com"
    assert json.loads(policy["Attributes"]["FilterPolicy"]) == {"audience": ["public"], "component": ["API"]}
