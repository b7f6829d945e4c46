"""One cached boto3 client per service, with retries for transient errors.

boto3 comes with the Lambda runtime and is never packaged. Every client honours
AWS_ENDPOINT_URL, so the local world needs no special code here.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any, Callable

_RETRIES = {"mode": "standard", "max_attempts": 4}
# Side-effecting calls (SendCommand, RebootInstances, SetInstanceHealth, ModifyListener) are sent
# once: botocore's standard mode would resend after a read timeout, and a request that timed out may
# well have been carried out. Only a throttling answer, which AWS gives before doing anything, is
# retried (see `call_once`).
_ONCE = {"mode": "standard", "total_max_attempts": 1}
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TooManyRequestsException",
        "SlowDown",
    }
)
THROTTLING_ATTEMPTS = 4


_SESSIONS = threading.Lock()


@functools.cache
def service_models() -> Any:
    """The process's one loader of botocore's service models. Each session would otherwise parse
    its own copy of every model it uses (EC2's is megabytes of JSON): a cold start that makes a
    client and a table of DynamoDB, or a plain and a send-once client of SSM, read each twice."""
    from botocore.loaders import create_loader

    return create_loader()


def new_session(**kwargs: Any) -> Any:
    """A boto3 session of its own (sessions are not thread-safe) over the shared model loader.

    >>> new_session(region_name="eu-west-1").client("sts")  # doctest: +SKIP
    """
    import boto3
    import botocore.session

    with _SESSIONS:
        core = botocore.session.get_session()
        core.register_component("data_loader", service_models())
        session = boto3.session.Session(botocore_session=core, **kwargs)
        paths = service_models().search_paths
        paths[:] = list(dict.fromkeys(paths))  # each boto3 session appends its own data path again
    return session


@functools.cache
def client(service: str) -> Any:
    """Return a shared client for `service` (thread-safe once created).

    >>> client("sns").publish(TopicArn=arn, Message="hi")  # doctest: +SKIP
    """
    from botocore.config import Config  # deferred: the probe's cold start pays for boto3 when it needs it

    return new_session().client(service, config=Config(retries=_RETRIES, connect_timeout=3, read_timeout=10))


@functools.cache
def mutating_client(service: str) -> Any:
    """A client that never resends a request by itself: for calls that act (see `call_once`)."""
    from botocore.config import Config

    return new_session().client(service, config=Config(retries=_ONCE, connect_timeout=3, read_timeout=20))


def call_once(
    service: str, operation: str, sleep: Callable[[float], None] = time.sleep, **kwargs: Any
) -> Any:
    """Call a side-effecting operation; retried only when AWS answered that it was throttled.

    >>> call_once("ec2", "reboot_instances", InstanceIds=["i-0abc"])  # doctest: +SKIP
    """
    from botocore.exceptions import ClientError

    method = getattr(mutating_client(service), operation)
    for attempt in range(THROTTLING_ATTEMPTS):
        try:
            return method(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in THROTTLING_CODES or attempt == THROTTLING_ATTEMPTS - 1:
                raise
            sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


@functools.cache
def bounded_client(service: str, connect_timeout: float, read_timeout: float, attempts: int) -> Any:
    """A client that gives up within seconds: for calls made against a deadline of their own."""
    from botocore.config import Config

    retries = {"mode": "standard", "total_max_attempts": attempts}
    return new_session().client(
        service, config=Config(retries=retries, connect_timeout=connect_timeout, read_timeout=read_timeout)
    )


@functools.cache
def table(name: str) -> Any:
    """A DynamoDB Table resource (it serialises items and resends unprocessed batch writes)."""
    from botocore.config import Config

    dynamodb = new_session().resource("dynamodb", config=Config(retries=_RETRIES))
    return dynamodb.Table(name)


@functools.cache
def account_id() -> str:
    return client("sts").get_caller_identity()["Account"]


def region() -> str:
    return client("sts").meta.region_name


def topic_arn(name_or_arn: str) -> str:
    """Config may name a topic or give its ARN; SNS wants the ARN."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:sns:{region()}:{account_id()}:{name_or_arn}"


def reset() -> None:
    """Forget cached clients (tests point them at a new endpoint)."""
    for cached in (client, mutating_client, bounded_client, table, account_id):
        cached.cache_clear()
