"""The probe's seam: its local changes become votes, and only a quorum's change is published.

With `settings.vantage_points`, a region's own fold (thresholds) no longer reaches on_alarm.
When it turns a monitor DOWN (or UP again) the region checks its own eyes (the self-check URL),
votes in the home region's table, and asks the regions that have not voted yet to confirm at
once. Whoever casts the vote that completes a quorum records the change and publishes it to the
home region's alarms topic, with every region's evidence in the reason. One region's failure
that the others do not confirm is a note, never an incident.

>>> QuorumGate(config, "eu-west-1", VoteStore(table, "us-east-1"), LambdaAsker(), probe)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any, Callable, Iterable, Mapping, Optional, Protocol, Sequence

from chalicelib.alarms.message import probe_alarm_message
from chalicelib.config.model import Config, Monitor
from chalicelib.probe.result import ProbeResult
from chalicelib.state.thresholds import ALARM_STATE, Transition
from chalicelib.vantage import regional
from chalicelib.vantage.confirm import ConfirmRequest
from chalicelib.vantage.quorum import ABSTAIN, DOWN, UP, Tally, Vote, acted, is_note, tally, window_of
from chalicelib.vantage.votes import VoteStore

SELF_CHECK = "vantage-self-check"
SELF_CHECK_TIMEOUT = 3.0
WINDOW_SECONDS = 60.0  # a window without probe_every: the schedule's tick
CHANGE_ATTEMPTS = 3  # another region recording a change first: read again and decide again
CLAIM_SECONDS = 30.0  # a publish takes well under a second; a holder that died frees it then

Probe = Callable[[Sequence[Monitor], float], list[ProbeResult]]
HeldBack = Callable[[Transition], bool]


class Asker(Protocol):
    def ask(self, regions: Sequence[str], request: ConfirmRequest) -> dict[str, Optional[str]]: ...


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
    ) -> tuple[Optional[dict[str, Any]], set[str]]:
        """A tick's local changes: vote on them, ask the others, settle; publish what waits.
        `outbox` is the probe's, per monitor: a vote not cast yet is kept there, with the state,
        until it is. Returns the report (None when there was nothing to do) and the monitors
        whose outbox changed (to be saved)."""
        report = new_report(self.region)
        moved = [t for t in transitions if t.publishable and t.monitor in results]
        held = held_votes(outbox)
        touched: set[str] = set()
        try:
            if moved:
                now = self.clock()
                window = window_of(now, self.config.settings.probe_every or WINDOW_SECONDS)
                eyes = self.self_check()
                fresh = {t.monitor: self.vote(results[t.monitor], window, eyes, now) for t in moved}
                held |= fresh
                touched |= keep_votes(outbox, fresh)
            if held:
                self.vote_round(list(held.values()), held_back, report)
                touched |= drop_votes(outbox, list(outbox))  # all cast (an unreadable one with them)
            if moved or self.region == self.points.home:
                self.flush(report)
        except Exception as exc:  # noqa: BLE001 - the home table or topic out of reach: said, retried
            report["errors"].append(f"vantage: {type(exc).__name__}: {exc}")
        said = any(value for key, value in report.items() if key != "region")
        return (report if said else None), touched

    def vote_round(self, held: Sequence[Vote], held_back: HeldBack, report: dict) -> None:
        """Cast the held votes, settle them, and ask the others about what stays unconfirmed."""
        # A vote held from an earlier cycle is still this region's view (its fold has not turned
        # since, or a newer vote would have replaced it): it is cast now, in the current window,
        # where the others are asked.
        now = self.clock()
        window = window_of(now, self.config.settings.probe_every or WINDOW_SECONDS)
        votes = [replace(vote, window=window, at=now) for vote in held]
        unconfirmed = self.cast_and_settle(votes, now, held_back, report)
        if unconfirmed and any(vote.verdict != ABSTAIN for vote in votes):
            self.ask_others(ConfirmRequest(window, tuple(unconfirmed), self.region, now), report)

    def confirm(self, request: ConfirmRequest, held_back: HeldBack, deadline: float) -> dict[str, Any]:
        """Another region asks: check just these monitors, once, and vote in its window."""
        report = new_report(self.region)
        report["asked_by"] = request.asked_by
        monitors = [m for m in (self.config.monitor(name) for name in request.monitors) if m is not None]
        try:
            now = self.clock()
            eyes = self.self_check()
            if eyes is None:
                results = [r for r in self.probe(monitors, deadline) if not r.skipped]
            else:
                results = [ProbeResult(m.name, False, None, eyes, 0, now) for m in monitors]
            votes = [self.vote(result, request.window, eyes, self.clock()) for result in results]
            self.cast_and_settle(votes, request.since, held_back, report)
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
        verdict = UP if result.ok else DOWN
        return Vote(self.region, result.monitor, window, verdict, result.reason, result.latency_ms, now)

    def cast_and_settle(
        self, votes: Sequence[Vote], since: float, held_back: HeldBack, report: dict
    ) -> list[str]:
        """Cast each vote, then settle each monitor on the round's votes (cast at `since` or
        later); returns those still unconfirmed."""
        for vote in votes:
            self.store.cast(vote)
            report["votes"].append(vote.evidence())
        return [v.monitor for v in votes if not self.settle(v.monitor, v.window, since, held_back, report)]

    def settle(self, monitor: str, window: int, since: float, held_back: HeldBack, report: dict) -> bool:
        """Record the quorum's change, if any; False while the window is unconfirmed."""
        for _ in range(CHANGE_ATTEMPTS):
            held = self.store.acted(monitor)
            outcome = tally(self.store.votes(monitor, window), *self.rule, monitor, window, since)
            new = acted(held.status, outcome)
            if new is None or window < held.window:  # nothing new, or a later window already spoke
                return self.unchanged(held.status, outcome, report)
            message = self.message(monitor, held.status, new, outcome, held_back)
            if self.store.change(monitor, held, new, window, message, self.reason(new, outcome)):
                report["acted"].append({"monitor": monitor, "status": new, "evidence": outcome.evidence()})
                self.note_if_lone(new, outcome, report)  # a first UP over one region's failure
                return True
        report["errors"].append(f"vantage: {monitor}: other regions kept recording changes; left to them")
        return True

    def unchanged(self, current: str, outcome: Tally, report: dict) -> bool:
        if self.note_if_lone(current, outcome, report):
            return True
        if outcome.status is None:
            entry = {"monitor": outcome.monitor, "window": outcome.window, "evidence": outcome.evidence()}
            report["unconfirmed"].append(entry)
            return False
        return True

    def note_if_lone(self, current: str, outcome: Tally, report: dict) -> bool:
        """A failure the others' votes settled against (or with every region heard) is a note."""
        if not is_note(current, outcome) or (outcome.status is None and outcome.missing):
            return False
        failing, healthy = [v.region for v in outcome.down], [v.region for v in outcome.up]
        self.store.note(outcome.monitor, outcome.window, self.clock(), outcome.evidence(), failing, healthy)
        report["notes"].append({"monitor": outcome.monitor, "evidence": outcome.evidence()})
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
        """Publish the confirmed changes SNS has not taken, oldest first; a failure stops here
        and they wait for the next cycle (on_alarm drops a copy: same alarm, state and time)."""
        home = self.points.home
        for key, message in self.store.pending():
            if not self.store.claim(key, self.clock(), CLAIM_SECONDS):
                continue  # another region is publishing it
            state = "DOWN" if message["NewStateValue"] == "ALARM" else "UP"
            subject = f"{message['Trigger']['Dimensions'][0]['value']} is {state}"
            regional.client("sns", home).publish(
                TopicArn=regional.topic_arn(self.config.settings.alarm_topic, home),
                Message=json.dumps(message),
                Subject=subject[:100],
            )
            self.store.published(key)
            report["published"].append(subject)


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
