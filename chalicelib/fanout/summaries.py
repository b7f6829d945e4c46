"""One summary per shard: which cycle it last finished and what each of its monitors answered.

Items live under the partition "shard" (sort key = shard index), one write per shard and cycle.
The per-monitor results are compressed JSON (a full shard's is a few kilobytes, one or two write
units). The scheduler reads them all (one Query) to build the status site; a monitor found in
no summary of the expected cycle is shown as unknown (`status`).
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from typing import Iterable, Mapping

from chalicelib.aws import dynamodb
from chalicelib.probe.result import ProbeResult

PARTITION = "shard"
KEEP_SECONDS = 86400.0  # a summary no plan writes any more goes after a day


@dataclass(frozen=True)
class Summary:
    shard: int
    tick: float
    cycle: int
    reported_at: float
    results: Mapping[str, ProbeResult]

    def after(self, tick: float, cycle: int) -> bool:
        """Whether this summary is of that cycle or a later one."""
        return (self.tick, self.cycle) >= (tick, cycle)


class SummaryStore:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def save(self, summary: Summary) -> bool:
        """Write the summary unless one of a later cycle is there already (a retried message
        finishing after the next cycle's must not hide it); False when it was not written."""
        item = {
            "pk": PARTITION,
            "sk": str(summary.shard),
            "tick": round(summary.tick, 3),
            "cycle": summary.cycle,
            "reported_at": round(summary.reported_at, 3),
            "results": pack(summary.results.values()),
            "probed": len(summary.results),
            "down": sum(1 for r in summary.results.values() if not r.ok and not r.skipped),
        }
        newer = "#tick > :tick OR (#tick = :tick AND #cycle > :cycle)"
        return dynamodb.put(
            self.table_name,
            item,
            condition=f"attribute_not_exists(sk) OR NOT ({newer})",
            values={":tick": item["tick"], ":cycle": summary.cycle},
            names={"#tick": "tick", "#cycle": "cycle"},
            expires=summary.reported_at + KEEP_SECONDS,
        )

    def load(self) -> list[Summary]:
        return [from_item(item) for item in dynamodb.query(self.table_name, PARTITION)]


def pack(results: Iterable[ProbeResult]) -> str:
    rows = [
        [
            r.monitor,
            2 if r.skipped else int(r.ok),
            r.latency_ms and round(r.latency_ms, 1),
            r.reason,
            r.checked_at,
        ]
        for r in results
    ]
    return base64.b64encode(zlib.compress(json.dumps(rows, separators=(",", ":")).encode())).decode()


def unpack(text: str) -> dict[str, ProbeResult]:
    rows = json.loads(zlib.decompress(base64.b64decode(text)))
    return {
        name: ProbeResult(
            monitor=name,
            ok=state == 1,
            latency_ms=latency,
            reason=reason,
            attempts=1,
            checked_at=checked_at,
            skipped=state == 2,
        )
        for name, state, latency, reason, checked_at in rows
    }


def from_item(item: Mapping) -> Summary:
    return Summary(
        shard=int(item["sk"]),
        tick=float(item["tick"]),
        cycle=int(item["cycle"]),
        reported_at=float(item["reported_at"]),
        results=unpack(str(item["results"])),
    )
