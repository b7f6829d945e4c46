"""Notify a chat channel through a Slack or Discord incoming webhook kept in SSM.

The webhook URL is a secret (whoever has it can post), so it lives in an SSM SecureString,
is read through Powertools Parameters (cached for five minutes), and is never logged: logs
name only the kind of webhook. urllib3's debug lines would print its path, so they are
redacted too.

>>> WebhookNotifier("/autoheal/chat-webhook").send(notice)  # doctest: +SKIP
True
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping, Optional
from urllib.parse import urlsplit

import requests
from aws_lambda_powertools import Logger

from chalicelib.config.kinds import Grant, Lookup
from chalicelib.notify.channels import Channel, register
from chalicelib.notify.format import discord_payload, slack_payload
from chalicelib.notify.notice import Notice

if TYPE_CHECKING:
    from chalicelib.config.model import ChannelPolicy, Config, Settings

logger = Logger(service="autoheal", child=True)

TIMEOUT = (3.05, 5.0)  # connect, read: a chat outage must not eat the Lambda's deadline
CACHE_SECONDS = 300
DISCORD_HOSTS = ("discord.com", "discordapp.com")


def webhook_kind(url: str) -> str:
    """Return "discord" for Discord webhook URLs, else "slack".

    Discord's own "/slack" endpoint takes Slack payloads, so it counts as Slack.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.path.rstrip("/").endswith("/slack"):
        return "slack"
    on_discord = any(host == h or host.endswith("." + h) for h in DISCORD_HOSTS)
    # Discord's path shape counts too, so a local stand-in (sandbox, tests) can play Discord.
    if on_discord or parts.path.startswith("/api/webhooks/"):
        return "discord"
    return "slack"


class WebhookNotifier:
    """POSTs the notice to the webhook whose URL is in `parameter_name`; never raises."""

    def __init__(
        self,
        parameter_name: str,
        session: Optional[requests.Session] = None,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.parameter_name = parameter_name
        self.session = session or requests.Session()
        self.timeout = timeout

    def send(self, notice: Notice) -> bool:
        """True when the webhook accepted the notice; failures are logged, not raised."""
        kind = "unknown"
        try:
            url = self._url()
            kind = webhook_kind(url)
            payload = discord_payload(notice) if kind == "discord" else slack_payload(notice)
            response = self.session.post(url, json=payload, timeout=self.timeout, allow_redirects=False)
        except Exception as exc:  # noqa: BLE001 - its message may hold the URL: log the type only
            error = type(exc).__name__
            logger.warning("chat webhook (%s) failed: %s", kind, error, extra={"kind": kind, "error": error})
            return False
        if not 200 <= response.status_code < 300:
            status = response.status_code
            logger.warning(
                "chat webhook (%s) refused: HTTP %s", kind, status, extra={"kind": kind, "status": status}
            )
            return False
        logger.info("chat webhook (%s) sent", kind, extra={"kind": kind, "incident": notice.incident})
        return True

    def _url(self) -> str:
        # Deferred: Parameters pulls in boto3, which callers that never notify should not pay for.
        from aws_lambda_powertools.utilities import parameters

        url = parameters.get_parameter(self.parameter_name, decrypt=True, max_age=CACHE_SECONDS)
        if not isinstance(url, str) or urlsplit(url).scheme not in ("https", "http"):
            raise ValueError("webhook parameter is not an http(s) URL")
        _REDACT.add(url)
        return url


class _Redactor(logging.Filter):
    """Replaces known webhook URLs and paths in third-party log records with "***"."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, url: str) -> None:
        parts = urlsplit(url)
        self.secrets.add(url)
        if len(parts.path) > 8:  # a bare "/" would redact every slash
            self.secrets.add(parts.path)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            if any(secret in text for secret in self.secrets):
                for secret in sorted(self.secrets, key=len, reverse=True):
                    text = text.replace(secret, "***")
                record.msg, record.args = text, None
        return True


_REDACT = _Redactor()
logging.getLogger("urllib3.connectionpool").addFilter(_REDACT)


@register
class Chat(Channel):
    """`chat`: the Slack or Discord webhook whose URL is in `settings.chat_webhook_parameter`."""

    kind = "chat"
    in_digest = True
    grants = (
        Grant("ChatWebhook", ("ssm:GetParameter",), "chat-webhook-parameter"),
        Grant("DecryptWebhook", ("kms:Decrypt",), "ssm-kms-keys"),
    )

    @classmethod
    def refused(cls, settings: Mapping[str, Any]) -> Optional[str]:
        if settings.get("chat_webhook_parameter"):
            return None
        return "set settings.chat_webhook_parameter first: there is no chat channel without it"

    @classmethod
    def build(cls, settings: Settings, policy: ChannelPolicy) -> WebhookNotifier:
        return WebhookNotifier(str(settings.chat_webhook_parameter))

    @classmethod
    def lookups(cls, params: Mapping[str, Any], config: Config, where: str) -> list[Lookup]:
        from chalicelib.aws.clients import client

        name = str(config.settings.chat_webhook_parameter)
        return [
            (
                f"settings.chat_webhook_parameter: parameter {name}",
                lambda: client("ssm").get_parameter(Name=name),
            )
        ]

    @classmethod
    def provision(cls, params: Mapping[str, Any], config: Config, local: Mapping[str, str]) -> None:
        """The webhook's URL, a SecureString (which CloudFormation cannot create, in AWS as here)."""
        from chalicelib.aws.clients import client

        url = local.get("chat_webhook_url")
        if url:
            client("ssm").put_parameter(
                Name=str(config.settings.chat_webhook_parameter),
                Value=url,
                Type="SecureString",
                Overwrite=True,
            )
