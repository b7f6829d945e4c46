"""For any sequence of signals, every incident that told people it opened tells them it ended.

The incident logic (grouping, depends_on, group_wait, resolve, split) runs here on in-memory
stores with the same contract as the DynamoDB ones (a version check on write, the ledger's
out-of-order rule), so hypothesis can try thousands of sequences in seconds; the storms in
test_grouping_storms.py run the same code against moto.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.alarms.model import AlarmEvent
from chalicelib.config.loader import parse_config
from chalicelib.incidents.alarm import AlarmHandler
from chalicelib.incidents.follow_up import FollowUp
from chalicelib.runbooks.engine import Clock, RunbookEngine
from chalicelib.runbooks.incident import OPEN, Incident
from chalicelib.runbooks.incident_store import IncidentConflict

MONITORS = ("web", "api", "realtime", "db")
CONFIG = """
settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b, group_wait: %s, notify: %s}
monitors:
  - {name: web, url: "http://127.0.0.1:9/", component: Website, depends_on: [db]}
  - {name: api, url: "http://127.0.0.1:9/api", depends_on: [web]}
  - {name: realtime, url: "http://127.0.0.1:9/rt", depends_on: [web]}
  - {name: db, url: "tcp://127.0.0.1:9", kind: tcp}
"""


class MemoryIncidents:
    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def get(self, key: str) -> Incident | None:
        item = self.items.get(key)
        return Incident.from_item(copy.deepcopy(item)) if item else None

    def save(self, incident: Incident) -> None:
        held = self.items.get(incident.key)
        if held is not None and held["version"] != incident.version:
            raise IncidentConflict(incident.key)
        incident.version += 1
        self.items[incident.key] = copy.deepcopy(incident.to_item())

    def needing_follow_up(self) -> list[Incident]:
        return [self.get(k) for k, i in self.items.items() if i["status"] == OPEN or i["unsent"]]


class MemoryLedger:
    def __init__(self) -> None:
        self.last: dict[str, tuple[float, str]] = {}

    def record(self, name: str, state: str, changed_at: float | None, now: float) -> bool:
        at = changed_at if changed_at is not None else now
        held = self.last.get(name)
        if held is not None and (held[0] > at or (held[0] == at and held[1] != state)):
            return False
        self.last[name] = (at, state)
        return True

    def states(self, names) -> dict[str, str]:
        return {n: self.last[n][1] for n in names if n in self.last}


@dataclass
class People:
    channels: list[str]
    heard: list[tuple[str, str]] = field(default_factory=list)  # (channel/incident, kind)

    def send(self, notice, channels=None) -> list:
        for channel in self.channels if channels is None else channels:
            self.heard.append((f"{channel}/{notice.incident}", notice.kind))
        return []


def signal(monitor: str, state: str, at: float, n: int) -> AlarmEvent:
    stamp = f"2026-05-01T21:{int(at) // 60 % 60:02d}:{int(at) % 60:02d}.{n % 1000:03d}+0000"
    return AlarmEvent(
        name=f"autoheal-probe-{monitor}", state=state, old_state=None, reason=f"{monitor} {state}",
        changed_at=stamp, kind="probe", namespace="Autoheal", metric="Availability", monitor=monitor,
        region=None, account=None, message_id=f"m{n}",
    )  # fmt: skip


steps = st.lists(
    st.tuples(st.sampled_from(MONITORS), st.sampled_from(["ALARM", "OK"]), st.integers(0, 8)),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(
    steps=steps,
    group_wait=st.sampled_from(["0", "5s"]),
    notify=st.sampled_from(["{}", "{sms: {if_not_healed_within: 20s}}"]),
    ends=st.permutations(MONITORS),
)
def test_every_incident_that_said_it_opened_says_it_ended(steps, group_wait, notify, ends):
    """On every channel, whatever its policy."""
    config = parse_config(CONFIG % (group_wait, notify))
    now = [1000.0]
    people = People(list(config.settings.notify))
    engine = RunbookEngine(config, None, None, None, None, people.send, Clock(now=lambda: now[0]))
    desk = dict(config=config, incidents=MemoryIncidents(), engine=engine, ledger=MemoryLedger())
    handler = AlarmHandler(clock=lambda: now[0], **desk)
    follow_up = FollowUp(clock=lambda: now[0], **desk)
    for n, (monitor, state, wait) in enumerate([*steps, *[(m, "OK", 1) for m in ends]]):
        now[0] += wait
        handler.handle(signal(monitor, state, now[0], n), None, deadline=10**12)
        if wait > 6:
            follow_up.invoke(deadline=10**12)
    now[0] += 3600
    follow_up.invoke(deadline=10**12)

    told_open: dict[str, bool] = defaultdict(bool)
    for incident, kind in people.heard:
        if kind == "opened":
            assert not told_open[incident], f"{incident} opened twice without an end: {people.heard}"
            told_open[incident] = True
        elif kind == "recovered":
            told_open[incident] = False
    assert not any(told_open.values()), people.heard
    assert all(i["status"] != OPEN for i in desk["incidents"].items.values())
