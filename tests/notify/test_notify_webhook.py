"""WebhookNotifier against a real local HTTP server, with its URL in moto's SSM SecureString."""

from __future__ import annotations

import logging
import socket

import boto3
import pytest
from moto import mock_aws

from chalicelib.notify import FanOut, WebhookNotifier, webhook_kind

PARAMETER = "/autoheal/chat-webhook"
SLACK_PATH = "/services/T0001/B0002/SlackSecretToken123"
DISCORD_PATH = "/api/webhooks/1234567890/DiscordSecretToken456"
FAST = (1.0, 0.5)  # connect, read


@pytest.fixture
def ssm():
    with mock_aws():
        yield boto3.client("ssm")


def store(ssm, url: str) -> None:
    ssm.put_parameter(Name=PARAMETER, Value=url, Type="SecureString", Overwrite=True)


@pytest.fixture
def logs(caplog, capsys):
    """Everything logged at any level (urllib3's debug lines name the URL path), and printed.

    Two loggers stay at WARNING: botocore, which at DEBUG logs every request and response
    body (the SecureString's value too, whoever calls it: here the test's own put_parameter),
    and werkzeug, the test server's access log, i.e. the receiving side.
    """
    caplog.set_level(logging.WARNING, logger="botocore")
    caplog.set_level(logging.WARNING, logger="werkzeug")
    caplog.set_level(logging.DEBUG)  # last: set_level also sets the capture handler's level

    def text() -> str:
        captured = capsys.readouterr()
        return caplog.text + captured.out + captured.err

    return text


def assert_no_secret(output: str, url: str, path: str) -> None:
    assert url not in output
    assert path not in output
    assert "SecretToken" not in output


@pytest.mark.parametrize(
    "url,kind",
    [
        ("https://hooks.slack.com/services/T/B/x", "slack"),
        ("https://discord.com/api/webhooks/1/x", "discord"),
        ("https://discordapp.com/api/webhooks/1/x", "discord"),
        ("https://ptb.discord.com/api/webhooks/1/x", "discord"),
        ("https://discord.com/api/webhooks/1/x/slack", "slack"),  # Discord's Slack-compatible endpoint
        ("https://notdiscord.com/hook", "slack"),
        ("http://127.0.0.1:8080/api/webhooks/1/x", "discord"),
    ],
)
def test_kind(url, kind):
    assert webhook_kind(url) == kind


def test_slack(ssm, httpserver, notice, logs):
    url = httpserver.url_for(SLACK_PATH)
    store(ssm, url)
    httpserver.expect_oneshot_request(SLACK_PATH, method="POST").respond_with_data("ok")
    assert WebhookNotifier(PARAMETER, timeout=FAST).send(notice) is True
    httpserver.check_assertions()
    [(request, _)] = httpserver.log
    body = request.get_json()
    assert body["text"].startswith("\U0001f534 *web is DOWN*")
    output = logs()
    assert "slack" in output
    assert_no_secret(output, url, SLACK_PATH)


def test_discord(ssm, httpserver, notice, logs):
    url = httpserver.url_for(DISCORD_PATH)
    store(ssm, url)
    httpserver.expect_oneshot_request(DISCORD_PATH, method="POST").respond_with_data("", status=204)
    assert WebhookNotifier(PARAMETER, timeout=FAST).send(notice) is True
    [(request, _)] = httpserver.log
    body = request.get_json()
    assert body["allowed_mentions"] == {"parse": []}
    assert body["content"].startswith("\U0001f534 **web is DOWN**")
    assert_no_secret(logs(), url, DISCORD_PATH)


def test_server_error_is_logged_not_raised(ssm, httpserver, notice, logs):
    url = httpserver.url_for(SLACK_PATH)
    store(ssm, url)
    httpserver.expect_request(SLACK_PATH).respond_with_data("boom", status=500)
    assert WebhookNotifier(PARAMETER, timeout=FAST).send(notice) is False
    output = logs()
    assert "chat webhook (slack) refused: HTTP 500" in output
    assert_no_secret(output, url, SLACK_PATH)


def test_redirect_is_not_followed(ssm, httpserver, notice):
    store(ssm, httpserver.url_for(SLACK_PATH))
    httpserver.expect_request(SLACK_PATH).respond_with_data("", status=302, headers={"Location": "/x"})
    assert WebhookNotifier(PARAMETER, timeout=FAST).send(notice) is False


@pytest.fixture
def hanging_server():
    """A socket that accepts connections (backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_hanging_webhook_times_out_quietly(ssm, hanging_server, notice, logs):
    url = hanging_server + SLACK_PATH
    store(ssm, url)
    assert WebhookNotifier(PARAMETER, timeout=(0.5, 0.3)).send(notice) is False
    output = logs()
    assert "chat webhook (slack) failed: ReadTimeout" in output
    assert_no_secret(output, url, SLACK_PATH)


def test_refused_connection(ssm, notice, logs):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}{DISCORD_PATH}"
    store(ssm, url)
    assert WebhookNotifier(PARAMETER, timeout=FAST).send(notice) is False
    assert_no_secret(logs(), url, DISCORD_PATH)


def test_missing_parameter(ssm, notice, logs):
    assert WebhookNotifier("/autoheal/none", timeout=FAST).send(notice) is False
    assert "chat webhook (unknown) failed: GetParameterError" in logs()


@pytest.mark.parametrize("value", ["not a url", "file:///etc/passwd", "ftp://x/SecretToken"])
def test_parameter_that_is_not_a_web_url(ssm, notice, logs, value):
    store(ssm, value)
    assert WebhookNotifier(PARAMETER, timeout=FAST).send(notice) is False
    assert "SecretToken" not in logs()


def test_url_is_cached(ssm, httpserver, notice):
    store(ssm, httpserver.url_for(SLACK_PATH))
    httpserver.expect_request(SLACK_PATH).respond_with_data("ok")
    notifier = WebhookNotifier(PARAMETER, timeout=FAST)
    assert notifier.send(notice) and notifier.send(notice)
    ssm.delete_parameter(Name=PARAMETER)  # cached for five minutes: still sends
    assert notifier.send(notice) is True
    assert len(httpserver.log) == 3


class Boom:
    def send(self, notice):
        raise RuntimeError("down")


class Recorder:
    def __init__(self):
        self.seen = []

    def send(self, notice):
        self.seen.append(notice)


def test_fanout_keeps_going(ssm, httpserver, notice):
    store(ssm, httpserver.url_for(SLACK_PATH))
    httpserver.expect_request(SLACK_PATH).respond_with_data("nope", status=500)
    first, last = Recorder(), Recorder()
    channels = {
        "first": first,
        "boom": Boom(),
        "chat": WebhookNotifier(PARAMETER, timeout=FAST),
        "last": last,
    }
    failed = FanOut(channels).send(notice)
    assert failed == ["boom", "chat"]
    assert first.seen == [notice] and last.seen == [notice]
