"""The `probe` function above the threshold: one SQS message per shard and cycle, spread over
the minute, then the status site from the shard summaries of the minute before.

Sub-minute cadence (`probe_every`) is kept by sending, at the top of the minute, every cycle's
messages of the minute with their DelaySeconds (cycle start + the shard's spread). A send SQS
refuses is tried once more, then reported in the return value and the log; that shard then
does not report and the site shows its monitors unknown. Nothing is skipped silently.

>>> FanOutRun(config, queue_url).invoke(deadline)  # doctest: +SKIP
{'shards': 25, 'sent': 25, 'failed': [], ...}
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from aws_lambda_powertools import Logger

from chalicelib.config.model import Config
from chalicelib.fanout.message import ShardMessage
from chalicelib.fanout.plan import Plan, cycle_starts, delays, plan_shards, worst_seconds
from chalicelib.fanout.status import reported, site_states
from chalicelib.fanout.summaries import SummaryStore
from chalicelib.probe.engine import BACKOFF

logger = Logger(service="autoheal", child=True)

TICK = 60.0
BATCH = 10  # SendMessageBatch's entries
BATCH_BYTES = 250_000  # under SendMessageBatch's 256 KiB for all its entries together
RESERVE = 1.0  # a cycle ends this much before its bound, for the summary's write


@dataclass
class Sent:
    messages: list[ShardMessage] = field(default_factory=list)
    failed: list[tuple[ShardMessage, str]] = field(default_factory=list)


def cycle_bound(config: Config) -> float:
    """The longest one monitor may take (all of its attempts to their timeouts)."""
    return max((worst_seconds(m.timeout, m.attempts, BACKOFF) for m in config.monitors), default=0.0)


def messages(
    config: Config, plan: Plan, tick: float, now: float, spread: float | None = None
) -> list[ShardMessage]:
    """Every message of the minute `tick` (its id) scheduled at `now`: one per shard and cycle.

    Times count from `now`, not from the tick: a schedule that fires late still gives each
    cycle its whole bound. `spread`: the seconds the shards' delays spread over (default: what
    the period leaves once a cycle's bound is kept back)."""
    every = config.settings.probe_every
    period = TICK if every is None or every >= TICK else every
    bound = min(cycle_bound(config) + RESERVE, period)
    offsets = delays(len(plan.shards), period if spread is None else bound + spread, bound)
    found = []
    for cycle, start in enumerate(cycle_starts(every, TICK)):
        for shard, delay in zip(plan.shards, offsets, strict=True):
            due = now + start + delay
            found.append(
                ShardMessage(tick, cycle, shard.index, len(plan.shards), due, due + bound, shard.monitors)
            )
    return found


def batches(found: Sequence[ShardMessage]) -> list[list[ShardMessage]]:
    """Groups of at most BATCH messages and BATCH_BYTES bytes."""
    groups: list[list[ShardMessage]] = []
    size = 0
    for message in found:
        length = len(message.body())
        if not groups or len(groups[-1]) == BATCH or size + length > BATCH_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(message)
        size += length
    return groups


class ShardQueue:
    """SendMessageBatch with each message's delay; returns what SQS refused, with its reason."""

    def __init__(self, queue_url: str, sqs: Any = None) -> None:
        self.queue_url = queue_url
        self._sqs = sqs

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            from chalicelib.aws.clients import client

            self._sqs = client("sqs")
        return self._sqs

    def send(self, batch: Sequence[ShardMessage], now: float) -> list[tuple[ShardMessage, str]]:
        entries = {
            str(i): {
                "Id": str(i),
                "MessageBody": message.body(),
                "DelaySeconds": max(0, min(900, math.floor(message.due - now))),
            }
            for i, message in enumerate(batch)
        }
        try:
            answer = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=list(entries.values()))
        except Exception as exc:  # noqa: BLE001 - botocore retried transient errors already
            return [(message, f"{type(exc).__name__}: {exc}") for message in batch]
        return [
            (batch[int(f["Id"])], f"{f.get('Code')}: {f.get('Message', '')}")
            for f in answer.get("Failed", [])
        ]


class FanOutRun:
    """`probe` for a config over the threshold (wiring builds it in place of ProbeRun)."""

    def __init__(
        self,
        config: Config,
        queue: ShardQueue,
        summaries: SummaryStore | None = None,
        clock: Callable[[], float] = time.time,
        plan: Plan | None = None,
        spread: float | None = None,
        store: Any = None,  # StateStore
        site: Any = None,  # StatusSite: wiring hands in the container's one; None: no site here
    ) -> None:
        from chalicelib.state.store import StateStore

        self.config = config
        self.queue = queue
        self.summaries = summaries or SummaryStore(config.settings.state_table)
        self.store = store or StateStore(config.settings.state_table)
        self.site = site
        self.clock = clock
        self.plan = plan or plan_shards(m.name for m in config.monitors)
        self.spread = spread

    def invoke(self, deadline: float) -> dict:
        now = self.clock()
        tick = math.floor(now / TICK) * TICK
        sent = self.schedule(tick, now)
        errors = [f"shard {m.shard} cycle {m.cycle}: send failed twice: {why}" for m, why in sent.failed]
        for error in errors:
            logger.error(error, extra={"tick": tick})
        site = self.publish_site(tick, errors)
        return {
            "tick": tick,
            "shards": len(self.plan.shards),
            "sent": len(sent.messages),
            "failed": [{"shard": m.shard, "cycle": m.cycle} for m, _ in sent.failed],
            "errors": errors,
            "site": site,
        }

    def schedule(self, tick: float, now: float) -> Sent:
        sent = Sent()
        for batch in batches(messages(self.config, self.plan, tick, now, self.spread)):
            failed = self.queue.send(batch, self.clock())
            if failed:  # once more, for the refused ones only
                failed = self.queue.send([m for m, _ in failed], self.clock())
            refused = {id(m) for m, _ in failed}
            sent.messages += [m for m in batch if id(m) not in refused]
            sent.failed += failed
        return sent

    def publish_site(self, tick: float, errors: list[str]) -> dict:
        """The site from what the shards reported for the minute before (its last cycle)."""
        if self.site is None:  # a vantage point other than the home region
            return {}
        last_cycle = len(cycle_starts(self.config.settings.probe_every, TICK)) - 1
        try:
            results = reported(self.summaries.load(), tick - TICK, last_cycle)
            states = self.store.load()
            shown = site_states(self.config.monitors, states, results)
            self.site.cycle(shown, results, self.clock())
        except Exception as exc:  # noqa: BLE001 - the site waits for the next minute
            errors.append(f"status site update failed: {type(exc).__name__}: {exc}")
            logger.error(errors[-1])
            return {}
        unknown = sorted(name for name, state in shown.items() if state.status == "UNKNOWN")
        return {"reported": len(results), "unknown": len(unknown)}
