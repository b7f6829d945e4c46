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
from typing import TYPE_CHECKING

from chalicelib.aws import dynamodb

if TYPE_CHECKING:
    from chalicelib.runbooks.incident import Incident

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


class InboxFold:
    """Folds the signals waiting beside an incident into it, each once; they leave the inbox
    only once the incident holding them is saved. One per invocation, shared by the incident
    service (at its checkpoints) and the engine's notifier (before it shapes a notice)."""

    def __init__(self, inbox: SignalInbox) -> None:
        self.inbox = inbox
        self.absorbed: dict[str, InboxSignal] = {}

    def absorb(self, incident: Incident) -> list[InboxSignal]:
        waiting = [s for s in self.inbox.read(incident.key) if s.sk not in self.absorbed]
        self.absorbed.update({s.sk: s for s in waiting})
        for signal in waiting:
            incident.join(signal.signal)
            if signal.dependent and signal.signal not in incident.dependents:
                incident.dependents = [*incident.dependents, signal.signal]
            incident.tell(signal.at, f"{signal.signal}: {signal.state} ({signal.reason})")
        return waiting

    def saved(self, incident: Incident) -> None:
        """The incident is written: what was folded into it leaves the inbox."""
        prefix = f"{incident.key}#"
        done = [s for sk, s in self.absorbed.items() if sk.startswith(prefix)]
        if done:
            self.inbox.remove(done)
            for signal in done:
                self.absorbed.pop(signal.sk, None)
