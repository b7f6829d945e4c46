"""The probe's seam: its local changes become votes, and only a quorum's change is published.

With `settings.vantage_points`, a region's own fold (thresholds) no longer reaches on_alarm.
When it turns a monitor DOWN (or UP again) the region checks its own eyes (the self-check URL),
votes in the home region's table, and asks the regions that have not voted yet to confirm at
once. Whoever casts the vote that completes a quorum records the change and publishes it to the
home region's alarms topic, with every region's evidence in the reason. One region's failure
that the others do not confirm is a note, never an incident.

A round names one monitor or all of them (a region gone blind votes on every monitor at once,
and so do the confirmations it asks for): it costs a few requests, not a few per monitor. A
few monitors' votes and changes are a request each, made at once (`pool`); more, transactions
of 100 writes, a few at once; the round's votes are read back in one Query, the acted statuses
and the notes in batches. What the deadline leaves is said, and a tick's votes stay held.

>>> QuorumGate(config, "eu-west-1", VoteStore(table, "us-east-1"), LambdaAsker(), probe)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Callable, Iterable, Mapping, Optional, Protocol, Sequence, TypeVar, Union

from aws_lambda_powertools import Logger

from chalicelib.alarms.message import probe_alarm_message
from chalicelib.config.model import Config, Monitor
from chalicelib.probe.result import ProbeResult
from chalicelib.state.thresholds import ALARM_STATE, Transition
from chalicelib.vantage import regional
from chalicelib.vantage.confirm import ConfirmRequest
from chalicelib.vantage.pool import LATE, Late, each
from chalicelib.vantage.quorum import (
    ABSTAIN,
    DOWN,
    RAN_LATE,
    UP,
    Tally,
    Vote,
    acted,
    is_note,
    tally,
    window_of,
)
from chalicelib.vantage.votes import FEW, TRANSACT_ITEMS, Acted, Change, Note, VoteStore

logger = Logger(service="autoheal", child=True)

SELF_CHECK = "vantage-self-check"
SELF_CHECK_TIMEOUT = 3.0
WINDOW_SECONDS = 60.0  # a window without probe_every: the schedule's tick
CHANGE_ATTEMPTS = 3  # another region recording a change first: read again and decide again
CLAIM_SECONDS = 30.0  # a publish takes well under a second; a holder that died frees it then
CAST_SECONDS = 5.0  # kept from a confirmation's probing for its round (a quarter at most)
ROUND_SECONDS = 30.0  # a tick's round without a deadline of its own: half the schedule's minute

Probe = Callable[[Sequence[Monitor], float], list[ProbeResult]]
T = TypeVar("T")
R = TypeVar("R")
HeldBack = Callable[[Transition], bool]


class Asker(Protocol):
    def ask(self, regions: Sequence[str], request: ConfirmRequest) -> dict[str, Optional[str]]: ...


@dataclass(frozen=True)
class Settled:
    """One monitor's round: the tally it ended on, the acted status after it, and whether this
    round recorded that status (None: others kept recording changes first)."""

    outcome: Tally
    status: str
    recorded: Optional[bool] = False


class QuorumGate:
    def __init__(
        self,
        config: Config,
        region: str,
        store: VoteStore,
        asker: Asker,
        probe: Probe,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        assert config.settings.vantage is not None
        self.config = config
        self.points = config.settings.vantage
        self.region = region
        self.store = store
        self.asker = asker
        self.probe = probe
        self.clock = clock
        self.monotonic = monotonic

    # -- the two ways in --------------------------------------------------------------------
    def after_cycle(
        self,
        transitions: Sequence[Transition],
        results: Mapping[str, ProbeResult],
        held_back: HeldBack,
        outbox: dict[str, list[dict]],
        deadline: Optional[float] = None,
    ) -> tuple[Optional[dict[str, Any]], set[str]]:
        """A tick's local changes: vote on them, ask the others, settle; publish what waits.
        `outbox` is the probe's, per monitor: a vote not cast yet is kept there, with the state,
        until it is (also one the deadline, ROUND_SECONDS without one, left uncast). Returns
        the report (None when there was nothing to do) and the monitors whose outbox changed
        (to be saved)."""
        report = new_report(self.region)
        deadline = self.monotonic() + ROUND_SECONDS if deadline is None else deadline
        moved = [t for t in transitions if t.publishable and t.monitor in results]
        # Alarms saved before vantage points were turned on: the quorum decides them instead
        stale = alarms_before_the_quorum(outbox, results)
        held = held_votes(outbox)
        touched: set[str] = set()
        try:
            if moved or stale:
                now = self.clock()
                window = window_of(now, self.config.settings.probe_every or WINDOW_SECONDS)
                eyes = self.self_check()
                voting = dict.fromkeys([*(t.monitor for t in moved), *stale])
                fresh = {monitor: self.vote(results[monitor], window, eyes, now) for monitor in voting}
                held |= fresh
                touched |= drop_alarms(outbox, stale) | keep_votes(outbox, fresh)
            if held:
                late = self.vote_round(list(held.values()), held_back, report, deadline)
                # All cast but the late (an unreadable one leaves with the cast)
                touched |= drop_votes(outbox, [monitor for monitor in outbox if monitor not in late])
            if moved or self.region == self.points.home:
                self.flush(report)
        except Exception as exc:  # noqa: BLE001 - the home table or topic out of reach: said, retried
            report["errors"].append(f"vantage: {type(exc).__name__}: {exc}")
        said = any(value for key, value in report.items() if key != "region")
        return (report if said else None), touched

    def vote_round(
        self, held: Sequence[Vote], held_back: HeldBack, report: dict, deadline: Optional[float] = None
    ) -> set[str]:
        """Cast the held votes, settle them, and ask the others about what stays unconfirmed;
        the monitors whose votes the deadline left uncast."""
        # A vote held from an earlier cycle is still this region's view (its fold has not turned
        # since, or a newer vote would have replaced it): it is cast now, in the current window,
        # where the others are asked.
        now = self.clock()
        window = window_of(now, self.config.settings.probe_every or WINDOW_SECONDS)
        votes = [replace(vote, window=window, at=now) for vote in held]
        unconfirmed, late = self.cast_and_settle(votes, now, held_back, report, deadline)
        if unconfirmed and any(vote.verdict != ABSTAIN for vote in votes):
            self.ask_others(ConfirmRequest(window, tuple(unconfirmed), self.region, now), report)
        return late

    def confirm(self, request: ConfirmRequest, held_back: HeldBack, deadline: float) -> dict[str, Any]:
        """Another region asks: check just these monitors, once, and vote in its window."""
        report = new_report(self.region)
        report["asked_by"] = request.asked_by
        monitors = [m for m in (self.config.monitor(name) for name in request.monitors) if m is not None]
        try:
            now = self.clock()
            eyes = self.self_check()
            if eyes is None:
                # The probe stops short of the deadline: the votes are cast in what is left
                left = max(0.0, deadline - self.monotonic())
                results = [
                    r for r in self.probe(monitors, deadline - min(CAST_SECONDS, left / 4)) if not r.skipped
                ]
            else:
                results = [ProbeResult(m.name, False, None, eyes, 0, now) for m in monitors]
            votes = [self.vote(result, request.window, eyes, self.clock()) for result in results]
            self.cast_and_settle(votes, request.since, held_back, report, deadline)
            self.flush(report)
        except Exception as exc:  # noqa: BLE001
            report["errors"].append(f"vantage: {type(exc).__name__}: {exc}")
        return report

    @property
    def is_home(self) -> bool:
        return self.region == self.points.home

    @property
    def writes_status_site(self) -> bool:
        """Only the home region writes the public site: another region's own view is a vote.
        (The home region's view is still its own: the site does not read the quorum yet.)"""
        return self.is_home

    @property
    def rule(self) -> tuple[tuple[str, ...], int]:
        return self.points.regions, self.points.quorum

    # -- voting -----------------------------------------------------------------------------
    def self_check(self) -> Optional[str]:
        """None when this region sees its known-good target, else why not (it abstains)."""
        url = self.points.self_check[self.region]
        check = Monitor(name=SELF_CHECK, url=url, timeout=SELF_CHECK_TIMEOUT, retries=0)
        [result] = self.probe([check], self.monotonic() + SELF_CHECK_TIMEOUT + 1.0)
        return None if result.ok else (result.reason or "no answer")

    def vote(self, result: ProbeResult, window: int, eyes: Optional[str], now: float) -> Vote:
        if eyes is not None:
            return Vote(self.region, result.monitor, window, ABSTAIN, eyes, None, now)
        if result.starved:  # its timeout says this region was short of CPU, not that the monitor hangs
            return Vote(
                self.region, result.monitor, window, ABSTAIN, f"{RAN_LATE}: {result.reason}", None, now
            )
        verdict = UP if result.ok else DOWN
        return Vote(self.region, result.monitor, window, verdict, result.reason, result.latency_ms, now)

    def cast_and_settle(
        self,
        votes: Sequence[Vote],
        since: float,
        held_back: HeldBack,
        report: dict,
        deadline: Optional[float] = None,
    ) -> tuple[list[str], set[str]]:
        """Cast the votes, then settle each monitor on the round's votes (cast at `since` or
        later); returns the monitors still unconfirmed, and those whose vote the deadline left
        uncast (kept by the caller; never settled without it)."""
        votes = list({vote.monitor: vote for vote in votes}.values())  # one a monitor: its last
        cast = self.in_chunks(self.store.cast, self.store.cast_many, votes, TRANSACT_ITEMS, deadline)
        late = {vote.monitor for vote, done in zip(votes, cast, strict=True) if done is LATE}
        votes = [vote for vote in votes if vote.monitor not in late]
        report["votes"] += [vote.evidence() for vote in votes]
        if late:
            report["errors"].append(f"vantage: {len(late)} votes not cast by the deadline: held")
        unconfirmed: list[str] = []
        for window in dict.fromkeys(vote.window for vote in votes):
            monitors = [vote.monitor for vote in votes if vote.window == window]
            unconfirmed += self.settle_round(monitors, window, since, held_back, report, deadline)
        return unconfirmed, late

    def settle_round(
        self,
        monitors: Sequence[str],
        window: int,
        since: float,
        held_back: HeldBack,
        report: dict,
        deadline: Optional[float],
    ) -> list[str]:
        """Settle the monitors of one window: their acted statuses and votes read in a few
        requests, the changes recorded a few at a time, the notes written together; returns
        those still unconfirmed."""
        held = self.store.acted_many(monitors)
        ballots = self.store.round_votes(window, monitors)
        outcomes = {m: tally(ballots[m], *self.rule, m, window, since) for m in monitors}
        # By name: a chunk's votes are a range of the window's keys, read alone when read again
        changing = sorted(m for m in monitors if changes(held[m], outcomes[m]))
        recorded = self.in_chunks(
            lambda m: self.record([m], window, since, held_back, held, outcomes)[0],
            lambda chunk: self.record(chunk, window, since, held_back, held, outcomes),
            changing,
            TRANSACT_ITEMS // 2,  # a change is two writes with its message
            deadline,
        )
        settled = {m: Settled(outcomes[m], held[m].status) for m in monitors}
        settled |= {m: done for m, done in zip(changing, recorded, strict=True) if done is not LATE}
        left = [m for m, done in zip(changing, recorded, strict=True) if done is LATE]
        if left:
            report["errors"].append(f"vantage: {len(left)} changes not recorded by the deadline: {left[:5]}")
        notes: list[Note] = []
        unconfirmed = list(left)
        for monitor in monitors:
            if monitor not in left and not self.report_settled(settled[monitor], report, notes):
                unconfirmed.append(monitor)
        if notes:
            self.store.note_many(notes)
            report["notes"] += [{"monitor": note.monitor, "evidence": note.evidence} for note in notes]
        return unconfirmed

    def in_chunks(
        self,
        one: Callable[[T], R],
        many: Callable[[list[T]], list[R]],
        items: Sequence[T],
        size: int,
        deadline: Optional[float],
    ) -> list[Union[R, Late]]:
        """`one` on each of a few items; more, `many` on chunks of `size` (a transaction each),
        a few at a time. The items of a chunk the deadline left come back LATE."""
        if len(items) <= FEW:
            return each(one, items, deadline, self.monotonic)
        chunks = [list(items[start : start + size]) for start in range(0, len(items), size)]
        done = each(many, chunks, deadline, self.monotonic)
        return [
            r
            for chunk, got in zip(chunks, done, strict=True)
            for r in ([LATE] * len(chunk) if got is LATE else got)
        ]

    def record(
        self,
        monitors: Sequence[str],
        window: int,
        since: float,
        held_back: HeldBack,
        held: Mapping[str, Acted],
        outcomes: Mapping[str, Tally],
    ) -> list[Settled]:
        """Record the quorum's changes, each conditional on the acted version read (together:
        a transaction of up to 100 writes); those another region changed first are read again,
        together, and decided again."""
        settled: dict[str, Settled] = {}
        todo = list(monitors)
        for attempt in range(CHANGE_ATTEMPTS):
            if attempt:
                held = self.store.acted_many(todo)
                ballots = self.store.round_votes(window, todo)
                outcomes = {m: tally(ballots[m], *self.rule, m, window, since) for m in todo}
            settled |= {
                m: Settled(outcomes[m], held[m].status) for m in todo if not changes(held[m], outcomes[m])
            }
            proposed = [
                self.proposal(m, window, held[m], outcomes[m], held_back) for m in todo if m not in settled
            ]
            written = self.store.change_many(proposed)
            settled |= {
                c.monitor: Settled(outcomes[c.monitor], c.status, True)
                for c, ok in zip(proposed, written, strict=True)
                if ok
            }
            todo = [c.monitor for c, ok in zip(proposed, written, strict=True) if not ok]
            if not todo:
                break
        settled |= {m: Settled(outcomes[m], held[m].status, recorded=None) for m in todo}
        return [settled[m] for m in monitors]

    def proposal(self, monitor: str, window: int, held: Acted, outcome: Tally, held_back: HeldBack) -> Change:
        new = str(outcome.status)
        message = self.message(monitor, held.status, new, outcome, held_back)
        return Change(monitor, held, new, window, message, self.reason(new, outcome))

    def report_settled(self, settled: Settled, report: dict, notes: list[Note]) -> bool:
        """Say how a monitor's round ended; False while its window is unconfirmed."""
        outcome = settled.outcome
        if settled.recorded is None:
            report["errors"].append(
                f"vantage: {outcome.monitor}: other regions kept recording changes; left to them"
            )
            return True
        if settled.recorded:
            entry = {"monitor": outcome.monitor, "status": settled.status, "evidence": outcome.evidence()}
            report["acted"].append(entry)
            self.note_if_lone(settled.status, outcome, notes)  # a first UP over one region's failure
            return True
        if self.note_if_lone(settled.status, outcome, notes):
            return True
        if outcome.status is None:
            entry = {"monitor": outcome.monitor, "window": outcome.window, "evidence": outcome.evidence()}
            report["unconfirmed"].append(entry)
            return False
        return True

    def note_if_lone(self, current: str, outcome: Tally, notes: list[Note]) -> bool:
        """A failure the others' votes settled against (or with every region heard) is a note."""
        if not is_note(current, outcome) or (outcome.status is None and outcome.missing):
            return False
        failing = tuple(v.region for v in outcome.down)
        healthy = tuple(v.region for v in outcome.up)
        notes.append(
            Note(outcome.monitor, outcome.window, self.clock(), outcome.evidence(), failing, healthy)
        )
        return True

    def ask_others(self, request: ConfirmRequest, report: dict) -> None:
        answers = self.asker.ask(self.points.others(self.region), request)
        report["asked"] = {region: error or "asked" for region, error in answers.items()}

    # -- publishing ----------------------------------------------------------------------------
    def message(
        self, monitor: str, old: str, new: str, outcome: Tally, held_back: HeldBack
    ) -> Optional[dict]:
        """The alarm message on_alarm acts on; None for a first sighting (UNKNOWN -> UP) or a
        DOWN under maintenance (recorded, not published, as the probe does alone)."""
        now = self.clock()
        reason = self.reason(new, outcome)
        if DOWN not in (old, new) or held_back(Transition(monitor, old, new, reason, now)):
            return None
        return probe_alarm_message(
            monitor=monitor,
            new_state=ALARM_STATE[new],
            old_state=ALARM_STATE[old],
            reason=reason,
            namespace=self.config.settings.metrics_namespace,
            changed_at=datetime.fromtimestamp(now, UTC),
            region=self.points.home,
        )

    def reason(self, new: str, outcome: Tally) -> str:
        seen = outcome.down if new == DOWN else outcome.up
        how = "failing" if new == DOWN else "healthy"
        return f"{len(seen)} of {len(self.points.regions)} vantage points see it {how}: {outcome.evidence()}"

    def flush(self, report: dict) -> None:
        """Publish the confirmed changes SNS has not taken, each monitor's oldest first (the
        monitors a few at a time, past any deadline: an alarm is what the round is for); a
        failure stops that monitor's, the first is raised after the rest, and what is left
        waits for the next cycle (on_alarm drops a copy: same alarm, state and time)."""
        by_monitor: dict[str, list[tuple[str, dict]]] = {}
        for key, message in self.store.pending():
            by_monitor.setdefault(monitor_of(message), []).append((key, message))
        done = each(self.publish_all, list(by_monitor.values()), None)
        errors = []
        for outcome in done:
            assert not isinstance(outcome, Late)  # no deadline
            subjects, error = outcome
            report["published"] += subjects
            errors += [error] if error is not None else []
        if errors:
            raise errors[0]

    def publish_all(self, messages: Sequence[tuple[str, dict]]) -> tuple[list[str], Optional[Exception]]:
        """One monitor's pending messages in order, each claimed first (two regions flushing at
        once publish it once); the subjects published, and the error that stopped them."""
        subjects: list[str] = []
        try:
            for key, message in messages:
                if not self.store.claim(key, self.clock(), CLAIM_SECONDS):
                    continue  # another region is publishing it
                subjects.append(self.publish(message))
                self.store.published(key)
        except Exception as exc:  # noqa: BLE001 - raised by flush, once every monitor had its turn
            return subjects, exc
        return subjects, None

    def publish(self, message: dict) -> str:
        home = self.points.home
        state = "DOWN" if message["NewStateValue"] == "ALARM" else "UP"
        subject = f"{monitor_of(message)} is {state}"
        regional.client("sns", home).publish(
            TopicArn=regional.topic_arn(self.config.settings.alarm_topic, home),
            Message=json.dumps(message),
            Subject=subject[:100],
        )
        return subject


def monitor_of(message: Mapping[str, Any]) -> str:
    return str(message["Trigger"]["Dimensions"][0]["value"])


def changes(held: Acted, outcome: Tally) -> bool:
    """The quorum says something new, and no later window has spoken yet."""
    return acted(held.status, outcome) is not None and outcome.window >= held.window


def new_report(region: str) -> dict[str, Any]:
    keys = ("votes", "acted", "notes", "unconfirmed", "published", "errors")
    return {"region": region, "asked": {}} | {key: [] for key in keys}


# -- votes not cast yet, kept in the monitor's outbox ----------------------------------------------
# The fold turns a monitor DOWN once: a vote lost with its container (the home table out of reach,
# then a cold start) would never be cast again, and the quorum would never hear this region. It is
# saved with the monitor's state, in the probe's outbox, rather than re-derived (comparing each
# monitor's own status with the quorum's acted one) because the probe reads that item every cycle
# anyway: holding a vote costs no read, and one write to clear it; re-deriving would read the acted
# status of every monitor every cycle.
HELD_VOTE = "vantage_vote"


def held_votes(outbox: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Vote]:
    """The votes waiting in the outbox, by monitor; one that does not read as a vote is left
    out (the fold's next turn votes again), never a reason to stop the cycle."""
    held = {}
    for monitor, entries in outbox.items():
        for entry in entries:
            if HELD_VOTE in entry:
                try:
                    held[monitor] = Vote(**entry[HELD_VOTE])
                except TypeError:
                    continue
    return held


def alarms_before_the_quorum(
    outbox: Mapping[str, Sequence[Mapping[str, Any]]], results: Mapping[str, ProbeResult]
) -> list[str]:
    """The monitors probed this cycle whose outbox still holds an alarm message: saved by the
    region's own fold before vantage points were turned on, never published since. Sent now it
    would act on one region's word; dropped, a monitor already DOWN would never be voted on (its
    fold does not turn again). So this cycle's view of it is voted on instead."""
    return [
        monitor
        for monitor, entries in outbox.items()
        if monitor in results and not results[monitor].skipped and any(HELD_VOTE not in e for e in entries)
    ]


def drop_alarms(outbox: dict[str, list[dict]], monitors: Iterable[str]) -> set[str]:
    """Take the alarm messages out of these monitors' outboxes, each said in the log."""
    for monitor in monitors:
        alarms = [entry for entry in outbox[monitor] if HELD_VOTE not in entry]
        states = ", ".join(str(alarm.get("NewStateValue")) for alarm in alarms)
        logger.warning(
            f"{monitor}: {len(alarms)} alarm message(s) saved before vantage points ({states}) "
            "left unpublished: this cycle's view is voted on instead",
            extra={"monitor": monitor, "dropped": len(alarms)},
        )
        outbox[monitor] = [entry for entry in outbox[monitor] if HELD_VOTE in entry]
    return set(monitors)


def keep_votes(outbox: dict[str, list[dict]], votes: Mapping[str, Vote]) -> set[str]:
    """Put each vote in its monitor's outbox, in place of one held before; the monitors touched."""
    for monitor, vote in votes.items():
        others = [entry for entry in outbox.get(monitor, []) if HELD_VOTE not in entry]
        outbox[monitor] = [*others, {HELD_VOTE: asdict(vote)}]
    return set(votes)


def drop_votes(outbox: dict[str, list[dict]], monitors: Iterable[str]) -> set[str]:
    """Take the cast votes out of the outbox; the monitors whose outbox changed."""
    touched = set()
    for monitor in monitors:
        entries = outbox.get(monitor, [])
        kept = [entry for entry in entries if HELD_VOTE not in entry]
        if len(kept) == len(entries):
            continue
        touched.add(monitor)
        if kept:
            outbox[monitor] = kept
        else:
            del outbox[monitor]
    return touched
