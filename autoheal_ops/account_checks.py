"""What a fresh AWS account lacks for a stage (`check --live`): one line per finding, with the fix.

A new account differs from a seasoned one in ways no template can fix: a Lambda concurrency
quota of 10, S3 Block Public Access on for the whole account, SMS in the sandbox, e-mail
subscriptions waiting for a click, and Lambda functions outside any VPC. An error is a deploy
that fails or a feature that cannot work (the check exits non-zero); a warning is a message
that will not reach someone, or a risk (printed, the check passes). docs/fresh-account.md lists
each line and its fix.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional
from urllib.parse import urlsplit, urlunsplit

from autoheal_ops.stage import (
    RESERVATION_KEY,
    UNRESERVED_MINIMUM,
    Reservation,
    StageNames,
    chalice_config,
    functions,
    reservation,
    stages,
)

QUOTA_CODE = "L-B99A9384"  # Service Quotas: Lambda "Concurrent executions"
ROOMY_QUOTA = 100  # below this, the account's functions throttle one another in a burst
PRIVATE_SUFFIXES = (".internal", ".local", ".localhost", ".lan", ".home.arpa")
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",  # RFC 1918
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local
        "::1/128",
        "fe80::/10",
        "fc00::/7",  # IPv6 unique local
    )
)


@dataclass(frozen=True)
class Finding:
    error: bool  # False: a warning
    text: str  # names the thing and the fix

    @property
    def line(self) -> str:
        return f"{'error' if self.error else 'warning'}: {self.text}"


def error(text: str) -> Finding:
    return Finding(True, text)


def warning(text: str) -> Finding:
    return Finding(False, text)


# --- Lambda concurrency ----------------------------------------------------------------------


def concurrency_findings(
    stage: str, quota: int, unreserved: int, reserved_now: int, reserved: Reservation
) -> list[Finding]:
    """`unreserved`: the account's figure now, of which `reserved_now` is this stage's own (a
    redeploy gives those back before it reserves again)."""
    applied = reserved.applied(functions())
    wanted = sum(applied.values())
    left = unreserved + reserved_now - wanted
    if wanted and left < UNRESERVED_MINIMUM:
        needed = quota - left + UNRESERVED_MINIMUM
        return [
            error(
                f"lambda: the {stage} stage reserves {wanted} concurrent executions but the account's"
                f" quota is {quota} ({unreserved} unreserved): {left} would stay unreserved and Lambda"
                f" refuses a deploy that leaves fewer than {UNRESERVED_MINIMUM}. Fix: set stages.{stage}."
                f"{RESERVATION_KEY}.enabled to false in .chalice/config.json, or raise the quota:"
                f" aws service-quotas request-service-quota-increase --service-code lambda"
                f" --quota-code {QUOTA_CODE} --desired-value {needed}"
            )
        ]
    if quota < ROOMY_QUOTA:
        return [
            warning(
                f"lambda: the account's concurrency quota is {quota}: every function in the account"
                f" shares it, so a burst (a probe cycle, the alarms of one outage) is throttled and"
                f" retried late. Fix: aws service-quotas request-service-quota-increase"
                f" --service-code lambda --quota-code {QUOTA_CODE} --desired-value 1000"
            )
        ]
    return []


# --- S3 Block Public Access ------------------------------------------------------------------


def public_access_findings(where: str, block: Optional[dict], fix: str) -> list[Finding]:
    """`block`: a PublicAccessBlockConfiguration (None: none set). The status site is a public
    bucket policy: BlockPublicPolicy refuses it (the stack fails), RestrictPublicBuckets ignores it."""
    if not block:
        return []
    on = [name for name in ("BlockPublicPolicy", "RestrictPublicBuckets") if block.get(name)]
    if not on:
        return []
    return [
        error(
            f"s3: {where} has {' and '.join(on)} on, so the status site's public-read bucket policy"
            f" is refused or ignored. Fix: {fix}"
        )
    ]


NONE = Reservation(False, None, {})
OPEN_POLICY = (
    "--public-access-block-configuration"
    " BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=false,RestrictPublicBuckets=false"
)


# --- SNS: the SMS sandbox and the notify topic's subscriptions -------------------------------


def sms_findings(in_sandbox: bool, verified: set[str], phones: dict[str, str]) -> list[Finding]:
    """`phones`: each SMS subscription's number by its ARN."""
    if not in_sandbox:
        return []
    listed = ", ".join(masked(n) for n in sorted(verified)) or "none"
    return [
        warning(
            f"sns: the sms subscription ...{arn[-8:]} ({masked(phone)}) receives nothing: the account"
            f" is in the SMS sandbox and the number is not verified (verified: {listed}). Fix: aws sns"
            f" create-sms-sandbox-phone-number --phone-number NUMBER, then aws sns"
            f" verify-sms-sandbox-phone-number --phone-number NUMBER --one-time-password CODE; or move"
            f" the account out of the sandbox (SNS console, Text messaging (SMS), Exit SMS sandbox)"
        )
        for arn, phone in sorted(phones.items())
        if phone not in verified
    ]


def masked(endpoint: str) -> str:
    """Enough of an address or number to tell which, not the whole: check output lands in logs.

    >>> masked("ops@corp.test"), masked("+15550199")
    ('o…@corp.test', '+…0199')
    """
    if "@" in endpoint:
        user, _, domain = endpoint.partition("@")
        return f"{user[:1]}…@{domain}"
    return f"{endpoint[:1]}…{endpoint[-4:]}" if len(endpoint) > 5 else "…"


def subscription_findings(topic: str, subscriptions: list[dict], policies: dict[str, str]) -> list[Finding]:
    """`subscriptions`: ListSubscriptionsByTopic's; `policies`: each confirmed one's FilterPolicy."""
    findings = []
    for sub in subscriptions:
        arn, protocol, endpoint = sub["SubscriptionArn"], sub["Protocol"], sub.get("Endpoint", "")
        if not arn.startswith("arn:"):  # "PendingConfirmation" (or "Deleted")
            findings.append(
                warning(
                    f"sns: the {protocol} subscription of {masked(endpoint)} to {topic} is pending"
                    f" confirmation:"
                    f" it receives nothing until the link in AWS's confirmation message is followed."
                    f" Fix: follow it (it expires after 3 days; subscribe again for a new one)"
                )
            )
        elif protocol in ("email", "email-json", "sms") and "channel" not in policies.get(arn, ""):
            channel = "sms" if protocol == "sms" else "email"
            findings.append(
                error(
                    f"sns: the {protocol} subscription ...{arn[-8:]} ({masked(endpoint)}) to {topic} has"
                    f" no filter policy on"
                    f" channel: it receives every channel's message of every notice. Fix: aws sns"
                    f" set-subscription-attributes --subscription-arn {arn} --attribute-name"
                    f' FilterPolicy --attribute-value \'{{"channel": ["{channel}"]}}\''
                )
            )
    return findings


# --- Monitors a Lambda outside a VPC cannot reach --------------------------------------------


def private_reason(host: str) -> Optional[tuple[bool, str]]:
    """(certain, why) when `host` is reachable from a private network only; None otherwise."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(PRIVATE_SUFFIXES):
            return True, f"{host} resolves on a private network only"
        if "." not in host:
            return True, f"{host} is a single-label name (a search domain's)"
        if "internal" in host.split("."):
            return False, f"{host} looks like a private name"
        return None
    for network in PRIVATE_NETWORKS:
        if address.version == network.version and address in network:
            return True, f"{host} is a private address ({network})"
    return None


def reachability_findings(monitors: Iterable[Any], in_vpc: bool) -> list[Finding]:
    if in_vpc:
        return []
    findings = []
    for index, monitor in enumerate(monitors):
        reason = private_reason(urlsplit(monitor.url).hostname or "")
        if reason is not None:
            certain, why = reason
            findings.append(
                Finding(
                    certain,
                    f"monitors[{index}] ({monitor.name}): {why}, and the probe function runs outside"
                    f" any VPC: it can never reach it (the monitor goes DOWN and its runbook acts)."
                    f" Fix: give the stage's functions subnet_ids and security_group_ids in"
                    f" .chalice/config.json (private subnets with a NAT gateway), or probe a public"
                    f" endpoint",
                )
            )
    return findings


def in_vpc(stage: Optional[str], function: str = "probe") -> bool:
    """Whether the stage's `function` (the one that probes) has subnets in .chalice/config.json."""
    if stage is None:
        return False
    config = chalice_config()
    settings = config["stages"][stage]
    own = settings.get("lambda_functions", {}).get(function, {})
    return bool(own.get("subnet_ids") or settings.get("subnet_ids") or config.get("subnet_ids"))


# --- The look-ups (adapters) -----------------------------------------------------------------


def stage_of(config: Any) -> Optional[str]:
    """The stage whose names the config uses (None: a config of its own, e.g. the local world's)."""
    for stage in stages():
        if StageNames(stage).state_table == config.settings.state_table:
            return stage
    return None


def account_findings(
    config: Any, reserved: Optional[Reservation] = None, functions_here: Optional[bool] = None
) -> list[Finding]:
    """Every look-up; one that AWS refuses (permissions, an API the endpoint lacks) is a warning
    with the command to run by hand, never a crash."""
    from autoheal_ops.check import deployed_name
    from chalicelib.aws.clients import client, topic_arn

    stage = stage_of(config)
    if functions_here is None:
        functions_here = _on_this_machine(client("lambda"))
    topic = topic_arn(config.settings.notify_topic)
    bucket = deployed_name(config.settings.status_bucket)
    checks: list[tuple[str, Callable[[], list[Finding]]]] = [
        ("aws s3control get-public-access-block --account-id ACCOUNT", _account_public_access),
        (f"aws s3api get-public-access-block --bucket {bucket}", lambda: _bucket_public_access(bucket)),
        (f"aws sns list-subscriptions-by-topic --topic-arn {topic}", lambda: _notify_topic(topic)),
    ]
    if not functions_here:  # the local world's functions run here: no account quota, no VPC
        checks.insert(0, ("aws lambda get-account-settings", lambda: _concurrency(stage, reserved)))
    findings = [] if functions_here else reachability_findings(config.monitors, in_vpc(stage))
    for by_hand, check in checks:
        try:
            findings += check()
        except Exception as exc:  # noqa: BLE001 - a refused look-up is reported, not fatal
            findings.append(
                warning(f"could not look up ({type(exc).__name__}: {_first_line(exc)}). Fix: run {by_hand}")
            )
    return findings


def _first_line(exc: Exception) -> str:
    lines = str(exc).splitlines()
    return lines[0][:120] if lines else ""


def account_errors(config: Any) -> list[str]:
    """`check --live`'s part: warnings printed to stderr, errors returned (they fail the check)."""
    findings = account_findings(config)
    for finding in findings:
        if not finding.error:
            print(finding.line, file=sys.stderr)
    return [finding.line for finding in findings if finding.error]


def _concurrency(stage: Optional[str], reserved: Optional[Reservation]) -> list[Finding]:
    from chalicelib.aws.clients import client

    lam = client("lambda")
    limit = lam.get_account_settings()["AccountLimit"]
    if stage is None:  # a config of its own: no stage's reservation to weigh
        return concurrency_findings(
            "config's", limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"], 0, NONE
        )
    reserved = reserved or reservation(stage)
    now = 0
    for name in functions():
        try:
            answer = lam.get_function_concurrency(FunctionName=StageNames(stage).function(name))
            now += int(answer.get("ReservedConcurrentExecutions") or 0)
        except lam.exceptions.ResourceNotFoundException:
            pass  # not deployed yet
    return concurrency_findings(
        stage, limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"], now, reserved
    )


def _account_public_access() -> list[Finding]:
    from chalicelib.aws.clients import client

    account = client("sts").get_caller_identity()["Account"]
    s3control = _s3control()
    try:
        block = s3control.get_public_access_block(AccountId=account)["PublicAccessBlockConfiguration"]
    except s3control.exceptions.NoSuchPublicAccessBlockConfiguration:
        return []
    fix = f"aws s3control put-public-access-block --account-id {account} {OPEN_POLICY}"
    return public_access_findings(f"account {account}'s Block Public Access", block, fix)


def _bucket_public_access(bucket: str) -> list[Finding]:
    from botocore.exceptions import ClientError

    from chalicelib.aws.clients import client

    try:
        block = client("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchPublicAccessBlockConfiguration", "NoSuchBucket"):
            return []  # none set, or not deployed yet (the bucket's own look-up says so)
        raise
    fix = f"aws s3api put-public-access-block --bucket {bucket} {OPEN_POLICY}"
    return public_access_findings(f"bucket {bucket}'s Block Public Access", block, fix)


def _notify_topic(topic: str) -> list[Finding]:
    from chalicelib.aws.clients import client

    sns = client("sns")
    subscriptions = [
        sub
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
        for sub in page["Subscriptions"]
    ]
    policies = {
        sub["SubscriptionArn"]: sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])[
            "Attributes"
        ].get("FilterPolicy", "")
        for sub in subscriptions
        if sub["SubscriptionArn"].startswith("arn:")
    }
    findings = subscription_findings(topic.rsplit(":", 1)[-1], subscriptions, policies)
    phones = {
        sub["SubscriptionArn"]: sub["Endpoint"]
        for sub in subscriptions
        if sub["Protocol"] == "sms" and sub["SubscriptionArn"].startswith("arn:")
    }
    if phones:
        in_sandbox = sns.get_sms_sandbox_account_status()["IsInSandbox"]
        verified = {
            number["PhoneNumber"]
            for page in sns.get_paginator("list_sms_sandbox_phone_numbers").paginate()
            for number in page["PhoneNumbers"]
            if number["Status"] == "Verified"
        }
        findings += sms_findings(in_sandbox, verified, phones)
    return findings


def _s3control() -> Any:
    """The s3control client. It puts the account id before the endpoint's host
    (123456789012.s3-control...): against a local endpoint (an address, or localhost) that name
    does not resolve, so the id is taken off again there; AWS's own hosts are left alone."""
    from chalicelib.aws.clients import client

    s3control = client("s3control")
    if not getattr(s3control, "_account_host_local", False):
        s3control.meta.events.register("before-send.s3-control", _local_host)
        s3control._account_host_local = True
    return s3control


def _local_host(request: Any, **_: Any) -> None:
    parts = urlsplit(request.url)
    account, _, rest = parts.netloc.partition(".")
    if account.isdigit() and _is_local(rest.rsplit(":", 1)[0]):
        request.url = urlunsplit(parts._replace(netloc=rest))


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _on_this_machine(lambda_client: Any) -> bool:
    """The local world runs its functions here: they reach what this machine reaches."""
    return _is_local(urlsplit(lambda_client.meta.endpoint_url).hostname or "")
