"""Is this under maintenance? The one question the probe (before it publishes a DOWN) and
`on_alarm` (before it opens an incident) both ask: the manual switch and the config's windows
(`cover.silences`).

`on_alarm` asks once an invocation and reads the switch for it. A probe cycle may ask about
dozens of monitors at one moment (a fresh outage): it asks one `MaintenanceReading`, which reads the switch
at its first question only, so the whole cycle is answered from one read (and a cycle with no
DOWN reads nothing); the next cycle takes a new `MaintenanceReading`, so no answer outlives its cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from chalicelib.config.model import Config
from chalicelib.maintenance import windows
from chalicelib.maintenance.cover import silenced_at, silences
from chalicelib.maintenance.mode import ManualMaintenance

Question = Callable[[Optional[str], Optional[str], float], bool]  # (monitor, runbook, at) -> held back
SwitchRead = Callable[[], Optional[ManualMaintenance]]


def under_maintenance(
    config: Config,
    manual: SwitchRead,
    monitor: Optional[str],
    runbook: Optional[str],
    at: float,
) -> bool:
    """`manual()` reads the switch (`MaintenanceStore.current`); a read that fails raises, so
    `on_alarm` fails and Lambda retries it (the probe reads through `or_none`).

    >>> under_maintenance(config, store.current, "web", "restart-web", time.time())  # doctest: +SKIP
    """
    return silences(config, manual(), monitor, runbook, at)


@dataclass(frozen=True)
class MaintenanceQuestion:
    """`under_maintenance` over a config and a switch: each call reads the switch;
    `reading()` answers many questions from one read.

    >>> ask = MaintenanceQuestion(config, or_none(store.current))  # doctest: +SKIP
    >>> ask("web", None, time.time()), ask.reading()  # doctest: +SKIP
    """

    config: Config
    read: SwitchRead

    def __call__(self, monitor: Optional[str], runbook: Optional[str], at: float) -> bool:
        return under_maintenance(self.config, self.read, monitor, runbook, at)

    def reading(self) -> MaintenanceReading:
        return MaintenanceReading(self.config, self.read)


class MaintenanceReading:
    """The question for one probe cycle: the switch read at the first question and kept, the
    windows worked out once per moment asked about. A read that raises is not kept (the next
    question reads again); the probe's tolerant read answers None instead, kept for the cycle."""

    def __init__(self, config: Config, read: SwitchRead) -> None:
        self.config = config
        self.read = read
        self.switch: Optional[tuple[Optional[ManualMaintenance]]] = None  # (the switch,) once read
        self.active: dict[float, list[windows.Occurrence]] = {}

    def __call__(self, monitor: Optional[str], runbook: Optional[str], at: float) -> bool:
        if self.switch is None:
            self.switch = (self.read(),)
        if at not in self.active:
            self.active[at] = windows.active(self.config.maintenance.windows, at)
        return silenced_at(self.config, self.active[at], self.switch[0], monitor, runbook, at)


def one_reading(question: Question) -> Question:
    """`question` for one cycle's many answers: a MaintenanceQuestion's `reading()`; any other
    callable (a test's, a rule of its own) is asked as it is."""
    return question.reading() if isinstance(question, MaintenanceQuestion) else question


def or_none(read: SwitchRead) -> SwitchRead:
    """The probe's reading: an unreadable switch counts as off, so the windows still hold back
    what they cover and the cycle goes on."""

    def reading() -> Optional[ManualMaintenance]:
        try:
            return read()
        except Exception:  # noqa: BLE001 - unreadable switch: windows still count
            return None

    return reading
