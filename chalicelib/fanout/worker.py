"""`probe_worker`: probe one shard with the probe's own engine and fold, then write its summary.

A shard is a `ProbeRun` over a config holding the shard's monitors only (`ShardRun`): the same
probing, thresholds, outbox and alarms, but its states are read by key (BatchGetItem, not the
whole partition) and, instead of the status site, one summary per shard and cycle is written.
Only states that changed are written.

SQS delivers with partial batch responses: a message whose shard could not be probed or
summarised is returned in `batchItemFailures`, so it alone becomes visible again, after
RETRY_SECONDS rather than the queue's visibility timeout (which must exceed the function's);
after three receives the queue's redrive moves it to the dead-letter queue, whose depth alarm
pages. When every message of the batch failed (always, at `batch_size=1`) the worker raises
instead: Lambda reads `batchItemFailures` only where the event source mapping has
ReportBatchItemFailures, which `chalice deploy` cannot set, and without it a returned failure
would delete the message, its shard silently skipped; a raised error is retried whatever the
mapping says. A message read late (retried) still gets its whole bound, so none of its monitors is
skipped. A worker that dies leaves its message to come back after the visibility timeout (90 s):
read more than a minute after it was due, it is dropped (logged), since the next minute's
message has covered its monitors; the site shows them unknown meanwhile.

With `settings.vantage_points` a shard's transitions go through the region's QuorumGate, as the
single invocation's do: they become this region's votes, and only a quorum's change is published.

>>> ShardWorker(config, engine).handle(event["Records"], deadline)  # doctest: +SKIP
{'batchItemFailures': []}
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Callable, Mapping, Sequence

from aws_lambda_powertools import Logger

from chalicelib.aws import dynamodb
from chalicelib.config.model import Config
from chalicelib.fanout.message import ShardMessage
from chalicelib.fanout.summaries import Summary, SummaryStore
from chalicelib.monitoring.probe_run import Invocation, ProbeRun
from chalicelib.probe.engine import ProbeEngine
from chalicelib.state.store import PARTITION as MONITORS
from chalicelib.state.store import StateStore, from_item
from chalicelib.state.thresholds import MonitorState
from chalicelib.vantage.gate import QuorumGate

logger = Logger(service="autoheal", child=True)

STALE = 60.0  # seconds past its due time a message is dropped: the next minute's covers its shard
RETRY_SECONDS = 2  # a failed message's visibility: retried within its minute, not after the queue's 90 s
ON_TIME = 1.0  # a message started later than this past its due time gets a whole bound from now
RESERVE = 2.0  # kept from the Lambda's deadline for the summary and the response
PUBLISH_SECONDS = 15.0  # after the cycle's end, for its transitions (a shard-wide outage is hundreds)


class ShardsFailed(RuntimeError):
    """Every message of a batch failed: raised so that Lambda retries them with or without
    partial batch responses on the mapping."""


class ShardStates(StateStore):
    """The states of one shard's monitors, read by key and eventually consistent: half the read
    units of a consistent read, for every monitor every cycle. The last write to these items was
    the shard's previous cycle, most of a period ago; a read that still missed it folds one cycle
    from the state before (a transition seen again is one alarm change on_alarm already holds)."""

    def __init__(self, table_name: str, monitors: Sequence[str]) -> None:
        super().__init__(table_name)
        self.monitors = list(monitors)

    def load_with_outbox(self) -> tuple[dict[str, MonitorState], dict[str, list[dict[str, Any]]]]:
        states: dict[str, MonitorState] = {}
        outbox: dict[str, list[dict[str, Any]]] = {}
        # Eventually consistent: half the cost; a state one cycle stale at worst (the shard's
        # own writes are the only ones, a cycle apart).
        items = dynamodb.get_many(self.table_name, MONITORS, self.monitors, consistent=False)
        for name, item in items.items():
            states[name] = from_item(item)
            if item.get("outbox"):
                outbox[name] = [json.loads(m) for m in item["outbox"]]
        return states, outbox


class ShardRun(ProbeRun):
    """ProbeRun over one shard: the site is left to the scheduler (the summary feeds it)."""

    def __init__(
        self,
        config: Config,
        engine: ProbeEngine,
        under_maintenance: Any = None,
        vantage: QuorumGate | None = None,
        **clocks: Callable[[], float],
    ) -> None:
        store = ShardStates(config.settings.state_table, [m.name for m in config.monitors])
        super().__init__(config, engine, store, None, under_maintenance, vantage=vantage, **clocks)

    def publish_status(self, run: Invocation) -> None:
        return None  # the scheduler builds the site from the shards' summaries


def retry_soon(record: Mapping[str, Any]) -> None:
    """Make a failed message visible again in RETRY_SECONDS; if SQS refuses, the queue's own
    visibility timeout brings it back later (logged, not raised: the batch response stands)."""
    from chalicelib.aws.clients import client

    try:
        _, _, _, region, account, name = str(record["eventSourceARN"]).split(":", 5)
        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=RETRY_SECONDS
        )
    except Exception as exc:  # noqa: BLE001
        logger.warning(
            f"message {record.get('messageId')}: visibility unchanged: {type(exc).__name__}: {exc}"
        )


def fresh_pool(engine: ProbeEngine) -> None:
    """Close the idle keep-alive connections of the shard this container probed before.

    A warm container is handed any shard: kept, another shard's idle connections (each a
    descriptor) would add up over invocations past Lambda's 1,024. They are closed on the probe
    loop, the only thread that may touch them."""
    from chalicelib.probe import loop
    from chalicelib.probe.connections import Pool

    old, engine.pool = engine.pool, Pool(engine.pool.per_host)

    async def close() -> None:
        for idle in old._idle.values():  # noqa: SLF001 - the pool has no public way to empty it
            for connection in idle:
                connection.close()
        old._idle.clear()  # noqa: SLF001

    loop.submit(close()).result(timeout=5)


class ShardWorker:
    def __init__(
        self,
        config: Config,
        engine: ProbeEngine,
        summaries: SummaryStore | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        under_maintenance: Any = None,  # the probe's question (wiring.under_maintenance)
        vantage: QuorumGate | None = None,  # with settings.vantage_points: a quorum decides
    ) -> None:
        self.config = config
        self.engine = engine
        self.under_maintenance = under_maintenance
        self.vantage = vantage
        self.summaries = summaries or SummaryStore(config.settings.state_table)
        self.clock = clock
        self.monotonic = monotonic
        self.last_shard: tuple[str, ...] = ()

    def handle(self, records: Sequence[Mapping[str, Any]], deadline: float) -> dict:
        """SQS's partial batch response: the ids of the messages to deliver again; raises
        ShardsFailed when that would be all of them."""
        failures = []
        for record in records:
            try:
                self.probe(ShardMessage.parse(record["body"]), deadline)
            except Exception as exc:  # noqa: BLE001 - this message is retried, the others are not
                logger.exception(
                    f"shard message {record.get('messageId')} failed: {type(exc).__name__}: {exc}",
                    extra={"message_id": record.get("messageId")},
                )
                failures.append({"itemIdentifier": record["messageId"]})
                retry_soon(record)
        if records and len(failures) == len(records):
            raise ShardsFailed(f"every message of the batch failed ({len(records)}): retried")
        return {"batchItemFailures": failures}

    def probe(self, message: ShardMessage, deadline: float) -> dict:
        """Probe the shard until its cycle's end; raises when its summary could not be written."""
        now = self.clock()
        if now > message.due + STALE:
            logger.warning(
                f"shard {message.shard} cycle {message.tick:.0f}#{message.cycle} read "
                f"{now - message.due:.0f} s after it was due: dropped, the next minute's message covers it",
                extra={"shard": message.shard},
            )
            return {"dropped": True}
        if message.due > now:  # SQS delays are whole seconds: start on time, not early
            time.sleep(min(message.due - now, 1.0))
        if message.monitors != self.last_shard:
            fresh_pool(self.engine)
            self.last_shard = message.monitors
        bound = message.ends - message.due
        until = message.ends if now <= message.due + ON_TIME else self.clock() + bound
        started = self.monotonic()
        ends = min(deadline - RESERVE, started + max(0.0, until - self.clock()))
        run = ShardRun(
            self.subset(message.monitors),
            self.engine,
            self.under_maintenance,
            self.vantage,
            monotonic=self.monotonic,
            clock=self.clock,
        )
        # Publishing follows the probes: its own seconds past the cycle's end, within the Lambda's.
        invocation = Invocation(publish_by=min(deadline - RESERVE, ends + PUBLISH_SECONDS))
        run.cycle(invocation, ends)
        if not invocation.trusted:
            raise RuntimeError("; ".join(invocation.errors) or "shard state unreadable")
        self.summaries.save(
            Summary(message.shard, message.tick, message.cycle, self.clock(), dict(invocation.results))
        )
        return invocation.summary(invocation.states)

    def subset(self, names: Sequence[str]) -> Config:
        wanted = set(names)
        return dataclasses.replace(
            self.config, monitors=tuple(m for m in self.config.monitors if m.name in wanted)
        )
