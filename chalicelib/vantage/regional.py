"""boto3 clients of a named region: the votes live in the home region, the confirmations go to
each other region, whatever region this Lambda runs in (`aws.clients` speaks to its own).

Built once each, under a lock: a round's requests run on several threads (`pool`), and boto3's
sessions are not thread-safe while they build a client (the clients then are)."""

from __future__ import annotations

import functools
import threading
from typing import Any

from chalicelib.aws.clients import new_session
from chalicelib.vantage.pool import WORKERS

_RETRIES = {"mode": "standard", "max_attempts": 3}
_CONNECTIONS = 2 * WORKERS  # a round's requests in flight, and a flush beside them
_BUILDING = threading.Lock()


def client(service: str, region: str) -> Any:
    with _BUILDING:
        return _client(service, region)


def table(name: str, region: str) -> Any:
    with _BUILDING:
        return _table(name, region)


@functools.cache
def _client(service: str, region: str) -> Any:
    from botocore.config import Config

    config = Config(retries=_RETRIES, connect_timeout=2, read_timeout=5, max_pool_connections=_CONNECTIONS)
    return new_session().client(service, region_name=region, config=config)


@functools.cache
def _table(name: str, region: str) -> Any:
    from botocore.config import Config

    config = Config(retries=_RETRIES, max_pool_connections=_CONNECTIONS)
    resource = new_session().resource("dynamodb", region_name=region, config=config)
    return resource.Table(name)


@functools.cache
def account_id(region: str) -> str:
    return client("sts", region).get_caller_identity()["Account"]


def topic_arn(name_or_arn: str, region: str) -> str:
    """The home region's topic: a name is resolved there, an ARN kept as given."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:sns:{region}:{account_id(region)}:{name_or_arn}"


def reset() -> None:
    for cached in (_client, _table, account_id):
        cached.cache_clear()
