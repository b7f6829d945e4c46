"""botocore at DEBUG prints every response body: never the decrypted webhook URL."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from chalicelib import logs
from chalicelib.aws import clients
from chalicelib.notify.webhook import WebhookNotifier
from sandbox.moto_server import MotoServer

WEBHOOK = "https://hooks.slack.com/services/T0001/B0002/s3cr3tT0kenXYZ"
PARAMETER = "/autoheal/chat-webhook"


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    with MotoServer() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
        clients.reset()
        yield server
    clients.reset()


@pytest.fixture
def everything_logged() -> Iterator[io.StringIO]:
    """Every library at DEBUG into one stream, as someone chasing a bug would set it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("botocore", "urllib3", "boto3"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(saved)
    for name in ("botocore", "urllib3", "boto3"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_the_decrypted_webhook_url_never_reaches_a_log_line(moto_aws, everything_logged) -> None:
    clients.client("ssm").put_parameter(Name=PARAMETER, Value=WEBHOOK, Type="SecureString")
    assert WebhookNotifier(PARAMETER)._url() == WEBHOOK
    text = everything_logged.getvalue()
    assert "GetParameter" in text and "Response body" in text  # botocore did print the body
    assert '"Value": "***"' in text or '"Value":"***"' in text
    assert WEBHOOK not in text
    assert "s3cr3tT0kenXYZ" not in text


def test_a_registered_secret_is_blanked_in_library_lines(everything_logged) -> None:
    logs.add_secret("tok-0123456789")
    logging.getLogger("urllib3.connectionpool").debug('"POST /hook/%s HTTP/1.1" 200', "tok-0123456789")
    logging.getLogger("botocore.endpoint").debug("Sending %s to %s", "GetParameter", "ssm")
    assert everything_logged.getvalue().splitlines() == [
        '"POST /hook/*** HTTP/1.1" 200',
        "Sending GetParameter to ssm",
    ]
