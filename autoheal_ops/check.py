"""Does a config name only what its stage creates and grants? (`python -m autoheal_ops check`)

A config that renames the table would pass the loader and then be denied at run time: the
stage's policies grant its own names only. This compares, offline, each AWS name in `settings`
with the stage's, and each runbook's target tags with what the policies were generated for.
"""

from __future__ import annotations

import re
from typing import Any

from autoheal_ops.account_checks import account_errors
from autoheal_ops.stage import StageNames
from chalicelib.config.kinds import Lookup

SETTINGS = (
    "state_table",
    "alarm_topic",
    "notify_topic",
    "status_bucket",
    "restart_document",
    "chat_webhook_parameter",
)


def name_errors(stage: str, config: Any) -> list[str]:
    """One line per setting that names something the stage neither creates nor grants."""
    names = StageNames(stage)
    errors = []
    for key in SETTINGS:
        found = getattr(config.settings, key)
        expected = getattr(names, key)
        if found is not None and found != expected and not _same_bucket(key, found, expected):
            errors.append(
                f"settings.{key}: {found!r} is not what the {stage} stage creates and grants"
                f" (expected {expected!r}; write ${{AUTOHEAL_{key.upper()}}})"
            )
    return errors


def placeholder_errors(config: Any) -> list[str]:
    """Monitors still pointing at the shipped example's endpoints (example.com is reserved)."""
    from urllib.parse import urlsplit

    errors = []
    for i, monitor in enumerate(config.monitors):
        host = urlsplit(monitor.url).hostname or ""
        if host == "example.com" or host.endswith(".example.com"):
            errors.append(f"monitors[{i}].url: {host} is the shipped example: name your own endpoint")
    return errors


def _same_bucket(key: str, found: str, expected: str) -> bool:
    """The bucket's account and region are filled in at deploy time: match them as such."""
    if key != "status_bucket":
        return False
    pattern = re.escape(expected).replace(re.escape("${AWS::AccountId}"), r"\d{12}")
    pattern = pattern.replace(re.escape("${AWS::Region}"), "[a-z]{2}(-[a-z]+)+-[0-9]")
    return re.fullmatch(pattern, found) is not None


def deployed_name(value: str) -> str:
    """A name with ${AWS::AccountId}/${AWS::Region}, as the deployed stack spelled it: the account
    the credentials reach (STS) and the clients' region. Other names pass unchanged."""
    from autoheal_ops.stage import fill_account_region
    from chalicelib.aws.clients import client

    if "${AWS::" not in value:
        return value
    sts = client("sts")
    account = sts.get_caller_identity()["Account"]
    return fill_account_region(value, account, sts.meta.region_name)


def kind_lookups(config: Any) -> list[Lookup]:
    """What each kind the config uses looks up for itself (`config.kinds`), each once."""
    import chalicelib.plugins  # noqa: F401 - the built-in kinds, registered
    from chalicelib.config.kinds import uses

    found: dict[str, Lookup] = {}
    for use in uses(config):
        for what, lookup in use.kind.lookups(use.params, config, use.where):
            found.setdefault(what, (what, lookup))
    return list(found.values())


def live_errors(config: Any) -> list[str]:
    """Every table, topic, bucket, document, parameter, load balancer, target group, listener
    and tag the config names, looked up in the account the credentials reach."""
    from chalicelib.aws.clients import client, topic_arn

    settings = config.settings
    bucket = deployed_name(settings.status_bucket)
    lookups: list[Lookup] = [
        (
            f"settings.state_table: table {settings.state_table}",
            lambda: client("dynamodb").describe_table(TableName=settings.state_table),
        ),
        (
            f"settings.status_bucket: bucket {bucket}",
            lambda: client("s3").head_bucket(Bucket=bucket),
        ),
        (
            f"settings.restart_document: document {settings.restart_document}",
            lambda: client("ssm").describe_document(Name=settings.restart_document),
        ),
    ]
    for key in ("alarm_topic", "notify_topic"):
        name = getattr(settings, key)
        lookups.append(
            (
                f"settings.{key}: topic {name}",
                lambda n=name: client("sns").get_topic_attributes(TopicArn=topic_arn(n)),
            )
        )
    lookups += kind_lookups(config)
    for name, deployment in config.deployments.items():
        lb, port = deployment.listener.load_balancer, deployment.listener.port
        lookups.append(
            (f"deployments.{name}.listener: {lb}:{port}", lambda lb=lb, port=port: _listener(lb, port))
        )
        for color in ("blue", "green"):
            group = getattr(deployment, color)
            lookups.append(
                (
                    f"deployments.{name}.{color}: target group {group}",
                    lambda g=group: client("elbv2").describe_target_groups(Names=[g]),
                )
            )
    for name, runbook in config.runbooks.items():
        if runbook.targets.tag:
            tags = dict(runbook.targets.tag)
            lookups.append(
                (f"runbooks.{name}.targets.tag: instances tagged {tags}", lambda t=tags: _tagged(t))
            )
    errors = []
    for what, lookup in lookups:
        try:
            lookup()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, each by its key
            errors.append(f"{what}: not found ({type(exc).__name__}: {str(exc)[:120]})")
    return errors + account_errors(config)


def _listener(load_balancer: str, port: int) -> None:
    from chalicelib.aws.clients import client

    arn = client("elbv2").describe_load_balancers(Names=[load_balancer])["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    ports = [
        listener["Port"] for listener in client("elbv2").describe_listeners(LoadBalancerArn=arn)["Listeners"]
    ]
    if port not in ports:
        raise LookupError(f"no listener on port {port} (ports: {ports})")


def _tagged(tags: dict[str, str]) -> None:
    from chalicelib.aws.clients import client

    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
    found = client("ec2").describe_instances(Filters=filters)["Reservations"]
    if not found:
        raise LookupError("no instance carries them")
