"""What wiring builds for the fan-out: the scheduler (above the threshold only) and the worker.

The shard queue is named by `AUTOHEAL_PROBE_QUEUE`; without it, after the state table of the
stage (`autoheal-<stage>-state` -> `autoheal-<stage>-probe-shards`), the name the resources
template gives it.
"""

from __future__ import annotations

import functools
import os
from typing import Optional

from chalicelib.config.model import Config
from chalicelib.fanout.plan import SHARD_CAPACITY, plan_shards
from chalicelib.fanout.scheduler import FanOutRun, ShardQueue
from chalicelib.fanout.worker import ShardWorker

QUEUE_ENV = "AUTOHEAL_PROBE_QUEUE"


def queue_name(config: Config) -> str:
    table = config.settings.state_table
    return os.environ.get(QUEUE_ENV) or f"{table.removesuffix('-state')}-probe-shards"


@functools.lru_cache(maxsize=4)
def queue_url(name: str) -> str:
    from chalicelib.aws.clients import client

    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def scheduler(config: Config) -> Optional[FanOutRun]:
    """The fan-out `probe`, or None: at or below the threshold one invocation probes everything."""
    plan = plan_shards(m.name for m in config.monitors)
    if not plan.fanned_out:
        return None
    return FanOutRun(config, ShardQueue(queue_url(queue_name(config))), plan=plan)


@functools.lru_cache(maxsize=1)
def shard_engine():  # -> ProbeEngine: every monitor of a full shard in flight at once
    from chalicelib.probe.engine import ProbeEngine

    return ProbeEngine(workers=SHARD_CAPACITY)


def worker(config: Config) -> ShardWorker:
    return ShardWorker(config, shard_engine())
