"""The shard queue's name and address (wiring builds the scheduler and the worker).

The shard queue is named by `AUTOHEAL_PROBE_QUEUE`; without it, after the state table of the
stage (`autoheal-<stage>-state` -> `autoheal-<stage>-probe-shards`), the name the resources
template gives it.
"""

from __future__ import annotations

import functools
import os

from chalicelib.config.model import Config

QUEUE_ENV = "AUTOHEAL_PROBE_QUEUE"


def queue_name(config: Config) -> str:
    table = config.settings.state_table
    return os.environ.get(QUEUE_ENV) or f"{table.removesuffix('-state')}-probe-shards"


@functools.lru_cache(maxsize=4)
def queue_url(name: str) -> str:
    from chalicelib.aws.clients import client

    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
