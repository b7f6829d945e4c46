"""boto3 clients of a named region: the votes live in the home region, the confirmations go to
each other region, whatever region this Lambda runs in (`aws.clients` speaks to its own)."""

from __future__ import annotations

import functools
from typing import Any

from chalicelib.aws.clients import new_session

_RETRIES = {"mode": "standard", "max_attempts": 3}


@functools.cache
def client(service: str, region: str) -> Any:
    from botocore.config import Config

    config = Config(retries=_RETRIES, connect_timeout=2, read_timeout=5)
    return new_session().client(service, region_name=region, config=config)


@functools.cache
def table(name: str, region: str) -> Any:
    from botocore.config import Config

    resource = new_session().resource("dynamodb", region_name=region, config=Config(retries=_RETRIES))
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
    for cached in (client, table, account_id):
        cached.cache_clear()
