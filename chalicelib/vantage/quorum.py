"""Votes of the vantage points, and what a quorum of them says: pure, no AWS.

A region votes on one monitor in one window (a confirmation round): DOWN with its evidence, UP,
or ABSTAIN when its own self-check failed (its eyes are shut: what it saw is no evidence). The
monitor is DOWN for acting only when `quorum` regions vote DOWN in the same window, and UP again
only when `quorum` vote UP. Anything less is unconfirmed: the acted status stays, and a DOWN
vote that did not reach the quorum is a note, never an incident.

Votes arrive out of order and twice (an asynchronous invoke is retried, a tick and a confirmation
may both vote): the tally keeps one vote per region, the latest by its time (ties by verdict),
so it is a function of the set of votes alone.

>>> votes = [Vote("us-east-1", "web", 7, DOWN, "timeout after 5s", 5001.0, 1.0),
...          Vote("eu-west-1", "web", 7, UP, None, 40.0, 2.0)]
>>> regions = ("us-east-1", "eu-west-1", "ap-northeast-2")
>>> tally(votes, regions, quorum=2, monitor="web", window=7).status is None
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

DOWN, UP, ABSTAIN = "DOWN", "UP", "ABSTAIN"
VERDICTS = (ABSTAIN, UP, DOWN)  # the tie-break of two votes of one region at one instant
RAN_LATE = "its probe ran late"  # an abstention's error: the timeout came while its loop stalled


@dataclass(frozen=True)
class Vote:
    region: str
    monitor: str
    window: int
    verdict: str
    error: Optional[str]  # the probe's reason (DOWN); why it abstains: its self-check's failure, or RAN_LATE
    latency_ms: Optional[float]
    at: float  # epoch seconds the region probed

    def evidence(self) -> str:
        """One line of what this region saw.

        >>> Vote("eu-west-1", "web", 1, DOWN, "connection refused", 2.4, 0).evidence()
        'eu-west-1: DOWN, connection refused (2 ms)'
        """
        timing = f" ({self.latency_ms:.0f} ms)" if self.latency_ms is not None else ""
        if self.verdict == ABSTAIN and (self.error or "").startswith(RAN_LATE):
            return f"{self.region}: abstained, {self.error}{timing}"
        if self.verdict == ABSTAIN:
            return f"{self.region}: abstained, self-check failed: {self.error}{timing}"
        what = f", {self.error}" if self.verdict == DOWN and self.error else ""
        return f"{self.region}: {self.verdict}{what}{timing}"


@dataclass(frozen=True)
class Tally:
    monitor: str
    window: int
    quorum: int
    down: tuple[Vote, ...]
    up: tuple[Vote, ...]
    abstained: tuple[Vote, ...]
    missing: tuple[str, ...]  # regions with no vote yet: shown, never taken for UP

    @property
    def status(self) -> Optional[str]:
        """DOWN or UP when a quorum agrees, None when the window is unconfirmed."""
        if len(self.down) >= self.quorum:
            return DOWN
        if len(self.up) >= self.quorum:
            return UP
        return None

    @property
    def votes(self) -> tuple[Vote, ...]:
        return tuple(sorted(self.down + self.up + self.abstained, key=lambda v: v.region))

    def evidence(self) -> str:
        """Each region's word, for the incident and the notice."""
        parts = [vote.evidence() for vote in self.votes]
        parts += [f"{region}: no answer" for region in self.missing]
        return "; ".join(parts)


def tally(
    votes: Iterable[Vote],
    regions: Sequence[str],
    quorum: int,
    monitor: str,
    window: int,
    since: float = -math.inf,
) -> Tally:
    """The regions' votes on `monitor` in `window`, cast at `since` or later (the round's start:
    an older vote answered an earlier question, such as the recovery before this failure); votes
    of other regions, monitors or windows do not count."""
    latest: dict[str, Vote] = {}
    for vote in votes:
        if vote.monitor != monitor or vote.window != window or vote.region not in regions or vote.at < since:
            continue
        held = latest.get(vote.region)
        if held is None or rank(vote) > rank(held):
            latest[vote.region] = vote
    by = {
        verdict: tuple(sorted((v for v in latest.values() if v.verdict == verdict), key=region_of))
        for verdict in VERDICTS
    }
    missing = tuple(region for region in regions if region not in latest)
    return Tally(monitor, window, quorum, by[DOWN], by[UP], by[ABSTAIN], missing)


def rank(vote: Vote) -> tuple[float, int, str, float]:
    """A total order on one region's votes: the latest wins; equal times, the gravest."""
    latency = -1.0 if vote.latency_ms is None else vote.latency_ms
    return (vote.at, VERDICTS.index(vote.verdict), vote.error or "", latency)


def region_of(vote: Vote) -> str:
    return vote.region


def acted(current: str, outcome: Tally) -> Optional[str]:
    """The acted status after this tally, when it changes: None keeps `current` (unconfirmed,
    or the quorum says what is already acted on)."""
    status = outcome.status
    return status if status is not None and status != current else None


def is_note(current: str, outcome: Tally) -> bool:
    """A failure seen without a quorum, while the monitor is not DOWN: one region's blip."""
    return current != DOWN and bool(outcome.down) and outcome.status != DOWN


def window_of(at: float, seconds: float) -> int:
    """The confirmation window that `at` (epoch seconds) falls in."""
    return int(math.floor(at / seconds))
