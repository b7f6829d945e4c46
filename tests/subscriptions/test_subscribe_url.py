"""settings.subscribe_url: the status page shows the subscribe form, posting there, only when the
config names the route's https address (http only on 127.0.0.1, where Chalice's local server runs)."""

from __future__ import annotations

import gzip
import re
import time

import pytest

from chalicelib import wiring
from chalicelib.aws.clients import client
from chalicelib.config import ConfigError, parse_config

SETTINGS = "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b%s}\n"
MONITORS = """monitors:
  - {name: web, url: 'http://127.0.0.1:9/healthz', component: Website}
  - {name: api, url: 'http://127.0.0.1:9/api/healthz', component: API}
"""
API = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/api/subscribe"


def settings(url: str | None) -> str:
    return SETTINGS % ("" if url is None else f", subscribe_url: {url!r}")


@pytest.mark.parametrize(
    "url", [API, "https://status-api.example.com/subscribe", "http://127.0.0.1:8000/subscribe"]
)
def test_the_routes_address_is_taken(url):
    assert parse_config(settings(url)).settings.subscribe_url == url


def test_no_address_no_form():
    assert parse_config(settings(None)).settings.subscribe_url is None


@pytest.mark.parametrize(
    "url",
    [
        "http://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/api/subscribe",  # in clear on the internet
        "http://localhost:8000/subscribe",
        "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/api/",  # the API, not the route
        "javascript:alert(1)//subscribe",
        "https:///subscribe",
        "https://[::1/subscribe",
        "https://example.com/sub scribe/subscribe",
        "/subscribe",
    ],
)
def test_anything_else_is_refused_naming_the_key(url):
    with pytest.raises(ConfigError) as refused:
        parse_config(settings(url))
    [error] = refused.value.errors
    assert error.startswith("settings.subscribe_url: expected an https:// URL ending in /subscribe")


def test_a_non_string_is_refused_naming_the_key():
    with pytest.raises(ConfigError) as refused:
        parse_config(SETTINGS % ", subscribe_url: 8000")
    assert [e.split(":")[0] for e in refused.value.errors] == ["settings.subscribe_url"]


def published_index() -> str:
    settings = wiring.config().settings
    stored = client("s3").get_object(Bucket=settings.status_bucket, Key="index.html")["Body"].read()
    return gzip.decompress(stored).decode()


def test_the_published_page_shows_the_form_posting_to_the_route(deploy, monkeypatch):
    deployment = deploy(MONITORS)
    wiring.site_refresher().publish(time.time())
    assert "<form" not in published_index()  # none named: no form
    text = deployment.config_path.read_text()
    deployment.config_path.write_text(text.replace("settings:\n", f"settings:\n  subscribe_url: {API}\n", 1))
    wiring.reset()
    wiring.site_refresher().publish(time.time())
    page = published_index()
    [action] = re.findall(r'<form method="post" action="([^"]+)"', page)
    assert action == API
    boxes = re.findall(r'<input type="checkbox" name="component" value="([^"]+)"', page)
    assert sorted(boxes) == ["API", "Website"]
