"""The SQS message of one shard and cycle: what the worker probes, and until when.

It carries the monitor names themselves, so a worker never probes another plan's shard, and a
message read after a config change probes what the scheduler meant (names no longer configured
are ignored; new ones wait for the next cycle's plan).

>>> ShardMessage.parse(ShardMessage(60.0, 0, 0, 3, 65.0, 75.2, ("web",)).body()).monitors
('web',)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

VERSION = 1


class BadMessage(ValueError):
    """Not a shard message: the worker fails it, so it ends on the dead-letter queue and pages."""


@dataclass(frozen=True)
class ShardMessage:
    tick: float  # the scheduler's minute (epoch seconds)
    cycle: int  # which cycle of the minute (`probe_every`), 0 without it
    shard: int
    shards: int
    due: float  # epoch seconds the probes start (the SQS delay ends)
    ends: float  # epoch seconds the cycle must end by: its bound
    monitors: tuple[str, ...]

    def body(self) -> str:
        return json.dumps({"v": VERSION, **asdict(self)}, separators=(",", ":"))

    @classmethod
    def parse(cls, body: str) -> ShardMessage:
        try:
            data = json.loads(body)
            if data.get("v") != VERSION:
                raise BadMessage(f"version {data.get('v')!r}, expected {VERSION}")
            return cls(
                tick=float(data["tick"]),
                cycle=int(data["cycle"]),
                shard=int(data["shard"]),
                shards=int(data["shards"]),
                due=float(data["due"]),
                ends=float(data["ends"]),
                monitors=tuple(str(name) for name in data["monitors"]),
            )
        except BadMessage:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BadMessage(f"not a shard message: {type(exc).__name__}: {exc}") from None
