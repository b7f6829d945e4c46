"""The start order within one run: the planned order, bent by what the run itself sees.

With more monitors than workers, a monitor that hangs holds its worker for its whole timeout
from the moment it starts, so the run ends one timeout after the last hanging monitor starts.
The planned order (`ProbeEngine._turn`) knows the past; a fresh process or a fresh outage knows
nothing. What the run sees early is that an attempt is still waiting well past what answers
take: its endpoint may hang. "Well past" is both a share of its timeout and being overtaken:
answers have come for several monitors started after it. On a starved CPU (a throttled Lambda)
every attempt waits long in wall time, but one that answers is seldom overtaken, since
answers are handled about in the order their requests went out. The monitors on its
endpoint not yet started then go next, since an outage usually takes a whole backend: their
timeouts run side by side instead of each starting only when its planned turn comes. A
monitor pulled forward that answers at once costs nothing; the rest keep their planned order.
If the attempt that raised the suspicion then answers, the endpoint was slow, not hung: what
is left of it goes back to its planned turns, so the workers go to endpoints that do hang.

Monitors the engine has never run (a first cycle) have no planned order worth keeping, so a
worker whose monitor answered takes the next such monitor on the same endpoint: its
connection has just gone back to the pool idle, where the planned order's next monitor,
elsewhere, would open one (over HTTPS a handshake, about 0.5 ms of CPU). Measured on a first
HTTPS cycle over 1,000 monitors: the last hang started at 0.36 s instead of 0.42 s.

>>> turns = Turns(range(4), ["http://a/x", "http://b/", "http://b/", "http://a/y"], [1.0] * 4, overtaken=2)
>>> [turns.take(now=0.0), turns.take(now=0.0)]
[0, 1]
>>> turns.done(1, answered=True, now=0.01); turns.take(now=0.01)
2
>>> turns.done(2, answered=True, now=0.2)  # 0 waited a fifth of its timeout; 1 and 2 overtook it
>>> turns.take(now=0.2)  # a/y goes before its planned turn
3
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import deque
from typing import Iterable, Optional, Sequence

SUSPECT = 0.1  # waiting this share of its timeout, an attempt makes its endpoint suspect
SWEEP = 0.025  # seconds between looks at the attempts in flight
OVERTAKEN = 8  # answers from monitors started later that make a waiting attempt suspect, at least


def overtaken_for(workers: int) -> int:
    """A quarter of the workers: with 256 in flight, some answers come out of order (TLS
    handshakes especially), and a false suspect costs connections its endpoint could share."""
    return max(OVERTAKEN, workers // 4)


def endpoint_of(url: str) -> str:
    """scheme://host:port as written: a grouping, not a parse (a wrong guess costs nothing)."""
    scheme, _, rest = url.partition("://")
    for end in "/?#":
        rest = rest.partition(end)[0]
    return f"{scheme}://{rest.lower()}"


class Turns:
    """Hands out monitor indices to workers; `sweep` pulls a suspect endpoint's monitors forward."""

    def __init__(
        self,
        order: Iterable[int],
        urls: Sequence[str],
        timeouts: Sequence[float],
        overtaken: int,
        fresh: Sequence[int] = (),
    ) -> None:
        self._planned = deque(order)
        self._fresh = set(fresh)  # monitors the engine knows nothing of: any order is as good
        self._fresh_by_endpoint: Optional[dict[str, deque[int]]] = None  # built on first use
        self._reusable: set[int] = set()  # fresh and answered: their connection is idle now
        self._urgent: deque[tuple[int, str]] = deque()  # pulled forward: (index, its endpoint)
        self._started = [False] * len(urls)
        self._urls = urls
        self._timeouts = timeouts
        self._overtaken = overtaken
        self._started_count = 0
        self._order: dict[int, int] = {}  # in flight: index -> how many had started before it
        self._answered: list[int] = []  # start ranks of the checks done, sorted
        self._waiting: dict[int, float] = {}  # in flight: index -> when it started
        self._by_endpoint: Optional[dict[str, list[int]]] = None  # built at the first suspect
        self._suspect: set[str] = set()  # endpoints whose monitors go first while they stay suspect
        self._next_sweep = 0.0  # time.monotonic() from which an answer sweeps again
        self._causes: dict[int, str] = {}  # in flight: index -> the endpoint it made suspect

    def pending(self) -> bool:
        return bool(self._planned or self._urgent)

    def take(self, now: float, after: Optional[int] = None) -> Optional[int]:
        """The next monitor to start, or None when every one has started. `after`: the one
        this worker just ended, whose endpoint's fresh monitors may reuse its connection."""
        urgent, started = self._urgent, self._started
        while urgent:
            i, endpoint = urgent.popleft()
            if not started[i] and endpoint in self._suspect:
                return self._start(i, now)
        if after is not None and after in self._reusable:
            queue = self._fresh_on(endpoint_of(self._urls[after]))
            while queue:
                i = queue.popleft()
                if not started[i]:
                    return self._start(i, now)
        planned = self._planned
        while planned:
            i = planned.popleft()
            if not started[i]:
                return self._start(i, now)
        return None

    def _fresh_on(self, endpoint: str) -> deque[int]:
        if self._fresh_by_endpoint is None:
            self._fresh_by_endpoint = {}
            for i in self._planned:
                if i in self._fresh:
                    self._fresh_by_endpoint.setdefault(endpoint_of(self._urls[i]), deque()).append(i)
        return self._fresh_by_endpoint.get(endpoint, deque())

    def _start(self, i: int, now: float) -> int:
        self._started[i] = True
        self._waiting[i] = now
        self._order[i] = self._started_count
        self._started_count += 1
        return i

    def done(self, i: int, answered: bool, now: float) -> None:
        """`i` ended; `answered`: with a response (any status), not a timeout or a failed connect.

        Answers are what overtakes a waiting attempt, so they also drive the sweeps: a timer
        fires only between the loop's turns, and on a throttled CPU one turn of a first cycle
        (hundreds of connects and answers) lasts 100 ms. Measured at 0.29 vCPU, first cycle:
        1.27-1.30x the bound with sweeps here against 1.32-1.36x on the timer alone."""
        insort(self._answered, self._order.pop(i))
        self._waiting.pop(i, None)
        if answered and i in self._fresh:
            self._reusable.add(i)
        cause = self._causes.pop(i, None)
        if cause is not None and answered:
            self._suspect.discard(cause)  # slow, not hung: `take` skips what it pulled forward
        if now >= self._next_sweep and self.pending():
            self.sweep(now)

    def sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP
        answered = self._answered
        for i, since in list(self._waiting.items()):  # at most `workers` long
            if now - since < SUSPECT * self._timeouts[i]:
                continue
            if len(answered) - bisect_right(answered, self._order[i]) >= self._overtaken:
                self._waiting.pop(i)  # judged once
                endpoint = endpoint_of(self._urls[i])
                if endpoint not in self._suspect:
                    self._causes[i] = endpoint
                    self._pull(endpoint)

    def _pull(self, endpoint: str) -> None:
        self._suspect.add(endpoint)
        if self._by_endpoint is None:  # only once something looks stuck: most runs never pay for it
            self._by_endpoint = {}
            for i in self._planned:
                if not self._started[i]:
                    self._by_endpoint.setdefault(endpoint_of(self._urls[i]), []).append(i)
        self._urgent.extend((i, endpoint) for i in self._by_endpoint.get(endpoint, ()))
