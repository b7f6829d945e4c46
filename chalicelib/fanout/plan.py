"""Shard planning, pure: which monitors each worker probes, and when its message is due.

Capacity. A shard's worker starts every monitor of its shard at once (one in-flight probe, one
socket each), so a worst-case cycle, every monitor hanging to its timeout, lasts one monitor's
worst time (`timeout * attempts + backoff`) and holds one descriptor per monitor. SHARD_CAPACITY
keeps that well inside Lambda's 1,024 descriptors (boto3, the log pipe and the keep-alive pool
take the rest); `bench/probe_fanout_shards.py` measures a full shard's wall, RSS and descriptors
(docs/benchmarks.md).

Stability. A monitor's home shard is a jump consistent hash (Lamping and Veach) of its name over
the shard count: adding or removing a monitor moves no other, and a new shard takes about 1/K of
the monitors, each from one old shard. Shards are sized to FILL of capacity so homes rarely
overflow; a monitor whose home is full goes to the next shard with room (monitors are placed in
hash order), so sizes are bounded strictly, and only the placement near a full shard can shift.

Spread. Shard i's message is delayed i/K of the room left in the period once its cycle's bound
is kept back, so probes and SQS batches are spread over the minute instead of bursting at its top.

>>> plan = plan_shards(["web", "api"], capacity=400)
>>> plan.fanned_out, len(plan.shards)
(False, 1)
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

SHARD_CAPACITY = 400  # monitors per shard; measured, see the module docstring
FILL = 0.8  # a shard's expected share of its capacity: room for the hash's unevenness
THRESHOLD = SHARD_CAPACITY  # up to this many monitors, the single `probe` invocation probes all
MAX_DELAY = 900  # SQS DelaySeconds' upper limit


@dataclass(frozen=True)
class Shard:
    index: int
    monitors: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    shards: tuple[Shard, ...]
    fanned_out: bool  # False: one invocation probes everything, no SQS hop

    def shard_of(self, monitor: str) -> int:
        return next(s.index for s in self.shards if monitor in s.monitors)


def key(name: str) -> int:
    """A stable 64-bit key (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")


def jump(key: int, buckets: int) -> int:
    """Jump consistent hash: a bucket in [0, buckets); growing `buckets` moves ~1/buckets keys."""
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) % (1 << 64)
        j = int((b + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return b


def shard_count(monitors: int, capacity: int = SHARD_CAPACITY) -> int:
    return max(1, math.ceil(monitors / (capacity * FILL)))


def plan_shards(
    monitors: Iterable[str], capacity: int = SHARD_CAPACITY, threshold: int | None = None
) -> Plan:
    """Split the monitor names into shards of at most `capacity`; below `threshold` (default:
    capacity) a single shard and no fan-out."""
    if capacity < 1:
        raise ValueError(f"capacity: expected at least 1, got {capacity}")
    names = list(dict.fromkeys(monitors))
    limit = capacity if threshold is None else threshold
    if len(names) <= limit and len(names) <= capacity:
        return Plan((Shard(0, tuple(names)),), fanned_out=False)
    count = shard_count(len(names), capacity)
    members: list[list[str]] = [[] for _ in range(count)]
    for name in sorted(names, key=lambda n: (key(n), n)):
        home = jump(key(name), count)
        for step in range(count):  # count * capacity > len(names): there is always room
            shard = (home + step) % count
            if len(members[shard]) < capacity:
                members[shard].append(name)
                break
    shards = tuple(Shard(i, tuple(sorted(m))) for i, m in enumerate(members))
    return Plan(shards, fanned_out=True)


def worst_seconds(timeout: float, attempts: int, backoff: float) -> float:
    """What one monitor can take at most: every attempt to its timeout, and the backoffs."""
    return timeout * attempts + backoff * (attempts - 1)


def delays(count: int, period: float, bound: float) -> list[int]:
    """Whole seconds (SQS DelaySeconds) each shard's message waits, spread over what is left of
    `period` once a cycle's `bound` is kept back; all 0 when the bound fills the period."""
    room = max(0.0, period - bound)
    return [min(MAX_DELAY, int(room * i / count)) for i in range(count)]


def cycle_starts(every: float | None, tick: float = 60.0) -> list[float]:
    """Seconds after the tick at which each cycle of the minute starts (`probe_every`)."""
    if every is None or every >= tick:
        return [0.0]
    return [i * every for i in range(int(tick // every))]


def sizes(plan: Plan) -> Sequence[int]:
    return [len(s.monitors) for s in plan.shards]
