"""The channels of `settings.notify`: each is a kind (`config.kinds.CHANNELS`) that builds its
notifier, built once here for every caller that tells people.

A channel of one's own is one module with a `Channel` subclass decorated with `@register`, and
its import (`chalicelib.plugins`); like Gatus's alert providers it builds one small `Notifier`.

>>> fan_out(config.settings).send(notice)  # doctest: +SKIP
[]
"""

from __future__ import annotations

from typing import Any, TypeVar

from chalicelib.config.kinds import CHANNELS, ChannelKind
from chalicelib.config.model import ChannelPolicy, Settings
from chalicelib.notify.providers import FanOut, Notifier

C = TypeVar("C", bound=type[ChannelKind])


class Channel(ChannelKind):
    """One notifier channel: its config side (`ChannelKind`) and the notifier it builds."""

    @classmethod
    def build(cls, settings: Settings, policy: ChannelPolicy) -> Notifier:
        raise NotImplementedError


def register(kind: C) -> C:
    return CHANNELS.register(kind)


def fan_out(settings: Settings, counts: Any = None) -> FanOut:
    """One notifier per channel, each behind its hourly limit if it has one (`counts`: the
    HourlyCounts store the composition root hands in; the operator's test message builds one)."""
    from chalicelib.notify.rate_limit import HourlyCounts, RateLimited

    counts = counts or HourlyCounts(settings.state_table)
    channels: dict[str, Any] = {}
    for name, policy in settings.notify.items():
        kind: Any = CHANNELS[name]
        channel: Any = kind.build(settings, policy)
        if policy.max_per_hour is not None:
            channel = RateLimited(channel, name, policy.max_per_hour, counts)
        channels[name] = channel
    return FanOut(channels)
