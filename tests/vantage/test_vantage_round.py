"""A round over many monitors costs a few requests to the home table, not a few per monitor,
and keeps the guarantees of a round over one: a change recorded once, a vote not cast held."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Optional, Sequence

import pytest

from chalicelib.config import parse_config
from chalicelib.config.model import Config
from chalicelib.probe.engine import ProbeEngine
from chalicelib.probe.result import ProbeResult
from chalicelib.vantage import regional
from chalicelib.vantage.confirm import ConfirmRequest
from chalicelib.vantage.gate import HELD_VOTE, SELF_CHECK, QuorumGate, keep_votes, new_report
from chalicelib.vantage.quorum import DOWN, UP, Vote, window_of
from chalicelib.vantage.votes import VoteStore
from tests.vantage.conftest import home_table_store

HOME, OTHERS = "us-east-1", ("eu-west-1", "ap-northeast-2")
MONITORS = [f"m{i}" for i in range(40)]
WINDOW = 1000
NOW = 6000.0  # the tick's clock: held votes are cast in its window
CONFIG = """settings:
  state_table: autoheal-state
  alarm_topic: autoheal-alarms
  notify_topic: autoheal-notify
  status_bucket: autoheal-status
  vantage_points: [us-east-1, eu-west-1, ap-northeast-2]
  vantage_self_check: https://checkip.example.org/
monitors:
"""


class Asked:
    """The other regions, as a gate asks them: each request kept, none delivered."""

    def __init__(self) -> None:
        self.requests: list[ConfirmRequest] = []

    def ask(self, regions: Sequence[str], request: ConfirmRequest) -> dict[str, Optional[str]]:
        self.requests.append(request)
        return {region: None for region in regions}


@pytest.fixture
def config() -> Config:
    return parse_config(
        CONFIG + "".join(f"  - {{name: {m}, url: 'https://{m}.example.org/'}}\n" for m in MONITORS)
    )


@pytest.fixture
def store(local_aws) -> Iterator[VoteStore]:
    yield from home_table_store(HOME)


def gate(config: Config, region: str, store: VoteStore, **clocks: Any) -> QuorumGate:
    def no_probe(monitors: Any, deadline: float) -> list:
        raise AssertionError("a round casts the votes it is given: nothing is probed")

    return QuorumGate(config, region, store, Asked(), no_probe, **clocks)


def votes(region: str, verdict: str, at: float) -> list[Vote]:
    error = "timeout after 2s" if verdict == DOWN else None
    return [Vote(region, m, WINDOW, verdict, error, 2000.0 if error else 40.0, at) for m in MONITORS]


def never_held(transition: Any) -> bool:
    return False


def counted(store: VoteStore) -> dict[str, int]:
    """The home table's requests from now on, by operation (the client's own event hook)."""
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def count(model: Any, **_: Any) -> None:
        with lock:
            counts[model.name] = counts.get(model.name, 0) + 1

    store.client.meta.events.register("before-call.dynamodb", count)
    return counts


def test_a_blind_regions_round_over_many_monitors_is_a_few_requests_and_a_note_each(config, store) -> None:
    blind, seeing = gate(config, HOME, store), [gate(config, region, store) for region in OTHERS]
    unconfirmed, late = blind.cast_and_settle(votes(HOME, DOWN, 10.0), 10.0, never_held, new_round())
    assert sorted(unconfirmed) == sorted(MONITORS) and late == set()
    first, _ = seeing[0].cast_and_settle(votes(OTHERS[0], UP, 11.0), 10.0, never_held, new_round())
    assert sorted(first) == sorted(MONITORS)  # one against one, a region unheard: unconfirmed
    requests = counted(store)
    report = new_round()
    last, late = seeing[1].cast_and_settle(votes(OTHERS[1], UP, 12.0), 10.0, never_held, report)
    assert last == [] and late == set() and report["errors"] == []
    assert sorted(entry["monitor"] for entry in report["acted"]) == sorted(MONITORS)  # a first quorum: UP
    assert len(report["notes"]) == len(MONITORS)  # the blind region's failure: a note each, no incident
    # The 40 votes in one transaction, the 40 changes in one, the reads and notes in a few
    # requests: 7 whatever the monitors (4-5 a monitor, before)
    assert requests == {
        "TransactWriteItems": 2,
        "Query": 1,
        "BatchGetItem": 1,
        "BatchWriteItem": 2,
        "UpdateItem": 2,
    }
    assert {a.status for a in store.acted_many(MONITORS).values()} == {UP}
    [line] = store.blips(0.0, 60.0)
    assert (line.failing, line.healthy, line.monitors) == ((HOME,), tuple(sorted(OTHERS)), 40)
    assert [note["monitor"] for note in store.notes("m7")] == ["m7"]


def all_down(config: Config, store: VoteStore) -> list[QuorumGate]:
    """Every monitor UP by the quorum, then seen failing by all three regions, the last two at once."""
    regions = [gate(config, region, store) for region in (HOME, *OTHERS)]
    for region, at in zip(regions, (1.0, 1.1, 1.2), strict=True):
        region.cast_and_settle(votes(region.region, UP, at), 1.0, never_held, new_round())
    assert {a.status for a in store.acted_many(MONITORS).values()} == {UP}
    regions[0].cast_and_settle(votes(HOME, DOWN, 2.0), 2.0, never_held, new_round())
    reports = [new_round(), new_round()]
    both = [
        threading.Thread(
            target=region.cast_and_settle, args=(votes(region.region, DOWN, 2.1), 2.0, never_held, r)
        )
        for region, r in zip(regions[1:], reports, strict=True)
    ]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join()
    assert all(r["errors"] == [] for r in reports)
    return regions, reports


def test_two_regions_settling_the_same_monitors_at_once_record_each_change_once(config, store) -> None:
    _, reports = all_down(config, store)
    acted = store.acted_many(MONITORS)
    assert {(a.status, a.version) for a in acted.values()} == {(DOWN, 2)}
    recorded = [entry["monitor"] for report in reports for entry in report["acted"]]
    assert sorted(recorded) == sorted(MONITORS)  # each by one region, never by both
    pending = store.pending()
    assert sorted(message["Trigger"]["Dimensions"][0]["value"] for _, message in pending) == sorted(MONITORS)
    assert {message["NewStateValue"] for _, message in pending} == {"ALARM"}


def test_votes_the_deadline_left_uncast_stay_held_in_the_outbox(config, store) -> None:
    late_gate = gate(config, OTHERS[0], store, clock=lambda: NOW, monotonic=lambda: 100.0)
    outbox: dict[str, list[dict]] = {"m1": [{"kept": "another entry"}]}
    keep_votes(outbox, {v.monitor: v for v in votes(OTHERS[0], DOWN, 5.0)})
    report, touched = late_gate.after_cycle([], {}, never_held, outbox, deadline=50.0)
    assert report is not None and "votes not cast by the deadline" in report["errors"][0]
    assert touched == set() and store.round_votes(WINDOW, MONITORS) == {m: [] for m in MONITORS}
    assert sorted(m for m, entries in outbox.items() if any(HELD_VOTE in e for e in entries)) == sorted(
        MONITORS
    )
    report, touched = gate(config, OTHERS[0], store, clock=lambda: NOW).after_cycle(
        [], {}, never_held, outbox
    )
    assert report is not None and report["errors"] == [] and touched == set(MONITORS)
    assert outbox == {"m1": [{"kept": "another entry"}]}
    assert all(len(found) == 1 for found in store.round_votes(window_of(NOW, 60.0), MONITORS).values())


def test_two_regions_flushing_at_once_publish_each_change_once(config, store) -> None:
    regions, _ = all_down(config, store)
    sns, sqs = regional.client("sns", HOME), regional.client("sqs", HOME)
    topic = sns.create_topic(Name="autoheal-alarms")["TopicArn"]
    queue = sqs.create_queue(QueueName="alarms")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    reports = [new_report(region.region) for region in regions[1:]]
    both = [
        threading.Thread(target=r.flush, args=(report,))
        for r, report in zip(regions[1:], reports, strict=True)
    ]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join()
    published = sorted(subject for report in reports for subject in report["published"])
    assert published == sorted(f"{m} is DOWN" for m in MONITORS)
    assert store.pending() == []
    received = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        received += [json.loads(m["Body"])["Trigger"]["Dimensions"][0]["value"] for m in batch]
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    assert sorted(received) == sorted(MONITORS)


def new_round() -> dict[str, list]:
    return {"votes": [], "acted": [], "notes": [], "unconfirmed": [], "errors": []}


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that takes connections and never answers: a hung app."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_confirmation_probes_short_of_its_deadline_and_casts_its_votes_by_it(
    store, known_good, silent_url
) -> None:
    """The monitors hang longer than the invocation has: the probe stops early enough for the
    votes to be cast (probing to the deadline left no time to cast them)."""
    text = CONFIG.replace("https://checkip.example.org/", known_good)
    config = parse_config(
        text + "".join(f"  - {{name: {m}, url: '{silent_url}', timeout: 10s}}\n" for m in MONITORS[:3])
    )
    confirming = QuorumGate(config, OTHERS[0], store, Asked(), ProbeEngine().run)
    request = ConfirmRequest(WINDOW, tuple(MONITORS[:3]), HOME, 0.0)
    report = confirming.confirm(request, never_held, time.monotonic() + 3.0)
    assert report["errors"] == []
    cast = store.round_votes(WINDOW, MONITORS[:3])
    assert {m: [v.verdict for v in found] for m, found in cast.items()} == {m: [DOWN] for m in MONITORS[:3]}


def test_an_alarm_saved_before_vantage_points_is_voted_on_not_published(config, store, caplog) -> None:
    # m3 turned DOWN and its alarm was saved while the region acted alone; SNS never took it.
    # Vantage points are on now: its fold will not turn again, so this cycle's view is its vote.
    asked = Asked()

    def sees_its_self_check(monitors: Any, deadline: float) -> list[ProbeResult]:
        return [ProbeResult(m.name, True, 20.0, None, 1, NOW) for m in monitors]

    region = QuorumGate(config, OTHERS[0], store, asked, sees_its_self_check, clock=lambda: NOW)
    alarm = {"AlarmName": "autoheal-probe-m3", "NewStateValue": "ALARM"}
    later = {"AlarmName": "autoheal-probe-m4", "NewStateValue": "ALARM"}  # m4: not probed this cycle
    outbox = {"m3": [alarm], "m4": [later]}
    results = {"m3": ProbeResult("m3", False, None, "timeout after 2s", 1, NOW)}
    report, touched = region.after_cycle([], results, never_held, outbox)
    assert touched == {"m3"} and outbox == {"m4": [later]}
    assert report["votes"] == [f"{OTHERS[0]}: DOWN, timeout after 2s"] and report["published"] == []
    assert [v.verdict for v in store.votes("m3", window_of(NOW, 60.0))] == [DOWN]
    assert [request.monitors for request in asked.requests] == [("m3",)]  # the others confirm it
    assert "m3: 1 alarm message(s) saved before vantage points (ALARM) left unpublished" in caplog.text


def test_a_confirmation_whose_probe_ran_late_abstains_and_restarts_nothing(config, store) -> None:
    # The home region is blind; eu-west-1, asked to confirm, is short of CPU: its probe's loop
    # stalled, so its timeouts say nothing of the monitors. It abstains, and with
    # ap-northeast-2 seeing them UP no quorum forms.
    def short_of_cpu(monitors: Any, deadline: float) -> list[ProbeResult]:
        if [m.name for m in monitors] == [SELF_CHECK]:  # its self-check came first, in time
            return [ProbeResult(SELF_CHECK, True, 20.0, None, 1, NOW)]
        return [ProbeResult(m.name, False, None, "timeout after 2s", 1, NOW, starved=True) for m in monitors]

    gate(config, HOME, store).cast_and_settle(votes(HOME, DOWN, 10.0), 10.0, never_held, new_round())
    starved = QuorumGate(config, OTHERS[0], store, Asked(), short_of_cpu, clock=lambda: 11.0)
    report = starved.confirm(
        ConfirmRequest(WINDOW, tuple(MONITORS), HOME, 10.0), never_held, time.monotonic() + 30
    )
    assert report["errors"] == [] and report["acted"] == []
    assert set(report["votes"]) == {f"{OTHERS[0]}: abstained, its probe ran late: timeout after 2s"}
    gate(config, OTHERS[1], store).cast_and_settle(votes(OTHERS[1], UP, 12.0), 10.0, never_held, new_round())
    assert DOWN not in {a.status for a in store.acted_many(MONITORS).values()}
