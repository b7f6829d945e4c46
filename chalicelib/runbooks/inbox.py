"""Signals that arrive while another invocation runs the incident's runbook.

That invocation alone writes the incident (a second writer would fail its next checkpoint), so
a signal for it is written beside it, one item per delivery (`pk="inbox"`,
`sk="<incident key>#<signal>#<changed at>"`), and the owner folds them into the incident at its
next checkpoint, at the end of the run, or `follow_up` does. Reading them is one Query on the
key's prefix; an item is deleted only once the incident holding it is saved.

>>> inbox = SignalInbox("autoheal-state")  # doctest: +SKIP
>>> inbox.put("restart-web/*", "web-5xx-high", "ALARM", "5xx above 5%", 1714597384.1)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.aws import dynamodb

PARTITION = "inbox"
KEPT_SECONDS = 7 * 86400


@dataclass(frozen=True)
class InboxSignal:
    sk: str
    signal: str
    state: str
    reason: str
    at: float
    dependent: bool = False


class SignalInbox:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def put(self, key: str, signal: str, state: str, reason: str, at: float, dependent: bool = False) -> None:
        item = {
            "pk": PARTITION,
            "sk": f"{key}#{signal}#{at:.3f}",
            "signal": signal,
            "state": state,
            "reason": reason[:300],
            "at": at,
            "dependent": dependent,
            "expiration": int(at + KEPT_SECONDS),
        }
        dynamodb.put(self.table_name, item)

    def read(self, key: str) -> list[InboxSignal]:
        """What waits for the incident `key`, oldest first."""
        found = dynamodb.query(self.table_name, PARTITION, sk_prefix=f"{key}#")
        signals = [
            InboxSignal(
                str(i["sk"]),
                str(i["signal"]),
                str(i["state"]),
                str(i.get("reason", "")),
                float(i["at"]),
                bool(i.get("dependent")),
            )  # fmt: skip
            for i in found
        ]
        return sorted(signals, key=lambda s: s.at)

    def remove(self, signals: list[InboxSignal]) -> None:
        for signal in signals:
            dynamodb.delete(self.table_name, PARTITION, signal.sk)
