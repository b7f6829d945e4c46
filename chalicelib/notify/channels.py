"""The channels of `settings.notify`, built once for every caller that tells people.

>>> fan_out(config.settings).send(notice)  # doctest: +SKIP
[]
"""

from __future__ import annotations

from typing import Any

from chalicelib.config.model import Settings
from chalicelib.notify.providers import FanOut


def fan_out(settings: Settings) -> FanOut:
    """One notifier per channel, each behind its hourly limit if it has one."""
    from chalicelib.aws.clients import topic_arn
    from chalicelib.notify.rate_limit import HourlyCounts, RateLimited
    from chalicelib.notify.sns import SnsNotifier
    from chalicelib.notify.webhook import WebhookNotifier

    channels: dict[str, Any] = {}
    for name, policy in settings.notify.items():
        if name == "chat":
            channel: Any = WebhookNotifier(str(settings.chat_webhook_parameter))
        else:
            channel = SnsNotifier(topic_arn(settings.notify_topic), name)
        if policy.max_per_hour is not None:
            channel = RateLimited(channel, name, policy.max_per_hour, HourlyCounts(settings.state_table))
        channels[name] = channel
    return FanOut(channels)
