"""The one interface every notifier implements, and a fan-out over several of them.

Like Gatus's alert providers: each channel is a small class with `send(notice)`.

>>> FanOut([SnsNotifier(topic_arn), WebhookNotifier("/autoheal/chat-webhook")]).send(notice)  # doctest: +SKIP
[]
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Protocol, Union

from aws_lambda_powertools import Logger

from chalicelib.notify.notice import Notice

logger = Logger(service="autoheal", child=True)


class Notifier(Protocol):
    """Sends a Notice somewhere. May raise on failure; may return False for a handled one."""

    def send(self, notice: Notice) -> None: ...


class FanOut:
    """Send to every notifier; one failing never stops the others.

    Notifiers are named by channel (`{"email": ..., "sms": ..., "chat": ...}`), or by their
    class when given as a list. `send` returns the names of those that failed (raised, or
    returned False).
    """

    def __init__(self, notifiers: Union[Mapping[str, Notifier], Iterable[Notifier]]) -> None:
        if not isinstance(notifiers, Mapping):
            notifiers = {type(n).__name__: n for n in notifiers}
        self.channels: dict[str, Notifier] = dict(notifiers)

    @property
    def names(self) -> list[str]:
        return list(self.channels)

    def send(self, notice: Notice, only: Iterable[str] | None = None) -> list[str]:
        """`only`: the names of the channels to send to (a retry of those that failed)."""
        failed = []
        wanted = None if only is None else set(only)
        for name, notifier in self.channels.items():
            if wanted is not None and name not in wanted:
                continue
            try:
                result: Any = notifier.send(notice)
            except Exception as exc:  # noqa: BLE001 - the next channel must still hear about it
                logger.warning(
                    "notifier failed",
                    extra={"notifier": name, "error": type(exc).__name__, "incident": notice.incident},
                )
                failed.append(name)
                continue
            if result is False:
                failed.append(name)
        return failed
