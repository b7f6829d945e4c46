"""Which app version served each request through the front door (from ``X-App-Version``).

>>> served = Served()
>>> served.record("v1", 200); served.record("v2", 500); served.record("v1", 200)
>>> served.counts()
{'v1': 2, 'v2': 1}
>>> round(served.share("v2"), 2), served.errors("v2")
(0.33, 1)
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Tally:
    requests: int
    errors: int  # answers with status >= 500
    first_at: float  # time.time() of the first and last request it served
    last_at: float


class Served:
    """Counts per version; requests no version answered (503 from the door, timeouts) count as
    ``""``. Thread-safe; :meth:`reset` starts over (e.g. at the start of a scenario)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._first: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def record(self, version: str, status: int, at: float | None = None) -> None:
        now = time.time() if at is None else at
        with self._lock:
            self._requests[version] += 1
            if status >= 500:
                self._errors[version] += 1
            self._first.setdefault(version, now)
            self._last[version] = now

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._requests)

    def total(self) -> int:
        with self._lock:
            return sum(self._requests.values())

    def share(self, version: str) -> float:
        """Fraction of all requests that ``version`` served (0.0 when none yet)."""
        with self._lock:
            total = sum(self._requests.values())
            return self._requests[version] / total if total else 0.0

    def errors(self, version: str) -> int:
        with self._lock:
            return self._errors[version]

    def last_served(self, version: str) -> float | None:
        """time.time() of the last request ``version`` served, or None."""
        with self._lock:
            return self._last.get(version)

    def tally(self) -> dict[str, Tally]:
        with self._lock:
            return {
                v: Tally(n, self._errors[v], self._first[v], self._last[v]) for v, n in self._requests.items()
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._errors.clear()
            self._first.clear()
            self._last.clear()
