"""A round's requests to the home table, a few at a time: one region's round can name every
monitor (a blind region, its recovery, the confirmations they ask for), and one request after
another, 80-250 ms each across regions, would take minutes.

Each call is a request of its own (a conditional write cannot be batched); boto3 clients are
thread-safe. A call not started by the deadline is not made: its item comes back as LATE, and
the caller keeps it for the next round.

>>> each(lambda n: n * 2, [1, 2, 3], deadline=None)
[2, 4, 6]
>>> each(lambda n: n * 2, [1], deadline=0.0, monotonic=lambda: 1.0) == [LATE]
True
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, Sequence, TypeVar, Union

WORKERS = 16  # requests in flight: 16 x 250 ms is 64 a second, a thousand monitors in 16 s


class Late:
    """A call the deadline left unmade."""

    def __repr__(self) -> str:
        return "LATE"


LATE = Late()
T = TypeVar("T")
R = TypeVar("R")


def each(
    call: Callable[[T], R],
    items: Sequence[T],
    deadline: Optional[float],
    monotonic: Callable[[], float] = time.monotonic,
    workers: int = WORKERS,
) -> list[Union[R, Late]]:
    """`call` on every item, at most `workers` at once, the results in the items' order; the
    first exception is raised once every call started has ended."""

    def timely(item: T) -> Union[R, Late]:
        if deadline is not None and monotonic() >= deadline:
            return LATE
        return call(item)

    if len(items) <= 1:
        return [timely(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(timely, item) for item in items]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]  # type: ignore[misc]
    return [f.result() for f in futures]
