"""`check --live` names what a fresh account lacks, each with its fix (moto in server mode)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace

import pytest

from autoheal_ops.account_checks import account_findings, private_reason, subscription_findings
from autoheal_ops.check import deployed_name, live_errors
from autoheal_ops.iam import stage_config
from autoheal_ops.stage import reservation
from chalicelib.aws import clients
from chalicelib.config.model import Monitor
from sandbox.moto_server import MotoServer

PROD = stage_config("prod")
OPTED_IN = replace(reservation("prod"), enabled=True)


def serve(quota: int | None) -> Iterator[MotoServer]:
    saved = os.environ.get("MOTO_LAMBDA_CONCURRENCY_QUOTA")
    if quota is not None:
        os.environ["MOTO_LAMBDA_CONCURRENCY_QUOTA"] = str(quota)  # read by the server at start
    try:
        with MotoServer() as server:
            server.apply_env()
            clients.reset()
            yield server
    finally:
        clients.reset()
        os.environ.pop("MOTO_LAMBDA_CONCURRENCY_QUOTA", None)
        if saved is not None:
            os.environ["MOTO_LAMBDA_CONCURRENCY_QUOTA"] = saved


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoServer]:
    yield from serve(None)  # a quota of 1000, as after an increase


@pytest.fixture
def account(aws: MotoServer) -> Iterator[MotoServer]:
    aws.reset()
    clients.reset()
    aws.client("sns").create_topic(Name=PROD.settings.notify_topic)
    yield aws


def lines(config=PROD, **kwargs) -> list[str]:
    """As against AWS: moto listens on loopback, where the local world's functions would run."""
    kwargs.setdefault("functions_here", False)
    return [finding.line for finding in account_findings(config, **kwargs)]


def test_a_seasoned_account_reports_only_the_shipped_private_looking_monitor(account) -> None:
    found = lines(reserved=OPTED_IN, functions_here=False)  # a quota of 1000 holds the 33
    assert [line.split(":")[:2] for line in found] == [["warning", " monitors[3] (database)"]]
    assert "db.internal.example.com looks like a private name" in found[0]


@pytest.mark.slow  # a server of its own, with a quota of 10
def test_a_reservation_the_quota_cannot_hold_fails_the_check() -> None:
    for aws in serve(10):
        aws.client("sns").create_topic(Name=PROD.settings.notify_topic)
        refused = [line for line in lines(reserved=OPTED_IN) if line.startswith("error: lambda")]
        assert len(refused) == 1, refused
        assert "reserves 33 concurrent executions" in refused[0]
        assert "quota is 10 (10 unreserved): -23 would stay unreserved" in refused[0]
        assert "reserved_concurrency_opt_in.enabled to false" in refused[0]
        assert "--desired-value 43" in refused[0]
        # The local world runs its functions here: it has no account quota to look up.
        assert not [line for line in lines(reserved=OPTED_IN, functions_here=True) if "lambda" in line]
        shipped = lines()  # off by default: the deploy goes through, the small quota is a warning
        assert not [line for line in shipped if line.startswith("error: lambda")]
        assert [line for line in shipped if line.startswith("warning: lambda")] == [
            "warning: lambda: the account's concurrency quota is 10: every function in the account"
            " shares it, so a burst (a probe cycle, the alarms of one outage) is throttled and retried"
            " late. Fix: aws service-quotas request-service-quota-increase --service-code lambda"
            " --quota-code L-B99A9384 --desired-value 1000"
        ]


def test_block_public_access_on_the_account_or_the_bucket_stops_the_status_site(account) -> None:
    sts_account = account.client("sts").get_caller_identity()["Account"]
    block = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    s3control = account.client("s3control")
    s3control.meta.events.register("before-send.s3-control", strip_account)
    s3control.put_public_access_block(AccountId=sts_account, PublicAccessBlockConfiguration=block)
    found = [line for line in lines() if line.startswith("error: s3")]
    assert found == [
        f"error: s3: account {sts_account}'s Block Public Access has BlockPublicPolicy and"
        " RestrictPublicBuckets on, so the status site's public-read bucket policy is refused or"
        f" ignored. Fix: aws s3control put-public-access-block --account-id {sts_account}"
        " --public-access-block-configuration"
        " BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=false,RestrictPublicBuckets=false"
    ]
    account.reset()
    clients.reset()
    account.client("sns").create_topic(Name=PROD.settings.notify_topic)
    bucket = deployed_name(PROD.settings.status_bucket)
    account.client("s3").create_bucket(Bucket=bucket)
    assert not [line for line in lines() if line.startswith("error: s3")]  # no block set: fine
    account.client("s3").put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={**block, "RestrictPublicBuckets": False}
    )
    found = [line for line in lines() if line.startswith("error: s3")]
    assert len(found) == 1 and f"bucket {bucket}'s Block Public Access has BlockPublicPolicy on" in found[0]
    assert f"aws s3api put-public-access-block --bucket {bucket}" in found[0]


def strip_account(request, **_) -> None:
    """The test's own s3control client, as the adapter's: the account id off a local host."""
    from autoheal_ops.account_checks import _local_host

    _local_host(request)


def test_in_the_sms_sandbox_an_unverified_number_is_named(account) -> None:
    sns = account.client("sns")
    topic = sns.create_topic(Name=PROD.settings.notify_topic)["TopicArn"]
    sms_only = json.dumps({"channel": ["sms"]})
    for phone in ("+15550100", "+15550199"):
        sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=phone, Attributes={"FilterPolicy": sms_only})
    sns.create_sms_sandbox_phone_number(PhoneNumber="+15550100")
    sns.verify_sms_sandbox_phone_number(PhoneNumber="+15550100", OneTimePassword="123456")
    unverified = next(
        sub["SubscriptionArn"]
        for sub in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        if sub["Endpoint"] == "+15550199"
    )
    found = [line for line in lines() if line.startswith(("warning: sns", "error: sns"))]
    assert len(found) == 1, found
    assert found[0].startswith(
        f"warning: sns: the sms subscription ...{unverified[-8:]} (+…0199) receives nothing: the"
        " account is in the SMS sandbox and the number is not verified (verified: +…0100). Fix: aws"
        " sns create-sms-sandbox-phone-number --phone-number NUMBER"
    )
    assert "+15550199" not in found[0]  # check output lands in logs


def test_a_subscription_without_a_filter_policy_is_an_error_with_the_command(account) -> None:
    sns = account.client("sns")
    topic = sns.create_topic(Name=PROD.settings.notify_topic)["TopicArn"]
    arn = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@corp.test")["SubscriptionArn"]
    found = [line for line in lines() if "sns" in line]
    assert found == [
        f"error: sns: the email subscription ...{arn[-8:]} (o…@corp.test) to autoheal-prod-notify has"
        " no filter policy on channel: it receives every channel's message of every notice. Fix: aws sns"
        f" set-subscription-attributes --subscription-arn {arn} --attribute-name FilterPolicy"
        ' --attribute-value \'{"channel": ["email"]}\''
    ]
    assert found[0] in live_errors(PROD)  # what `check --live` fails with
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue=json.dumps({"channel": ["email"]})
    )
    assert not [line for line in lines() if "sns" in line]


def test_a_pending_subscription_is_a_warning() -> None:
    # moto confirms every subscription at once; this is ListSubscriptionsByTopic's answer for an
    # e-mail address that has not followed its link yet.
    pending = {"SubscriptionArn": "PendingConfirmation", "Protocol": "email", "Endpoint": "ops@corp.test"}
    [finding] = subscription_findings("autoheal-prod-notify", [pending], {})
    assert not finding.error
    assert finding.line.startswith(
        "warning: sns: the email subscription of o…@corp.test to autoheal-prod-notify is pending"
        " confirmation: it receives nothing until the link"
    )


def test_private_monitors_fail_the_check_for_functions_outside_a_vpc(account) -> None:
    monitors = (
        Monitor(name="db", url="tcp://10.0.3.7:5432", kind="tcp"),
        Monitor(name="cache", url="tcp://redis.internal:6379", kind="tcp"),
        Monitor(name="admin", url="http://admin/healthz"),
        Monitor(name="meta", url="http://169.254.169.254/latest"),
        Monitor(name="web", url="https://app.corp.test/healthz"),
        Monitor(name="db-name", url="tcp://db.internal.corp.test:5432", kind="tcp"),
    )
    config = replace(PROD, monitors=monitors)
    found = [line for line in lines(config, functions_here=False) if "monitors[" in line]
    assert [line.split(":", 2)[:2] for line in found] == [
        ["error", " monitors[0] (db)"],
        ["error", " monitors[1] (cache)"],
        ["error", " monitors[2] (admin)"],
        ["error", " monitors[3] (meta)"],
        ["warning", " monitors[5] (db-name)"],
    ]
    assert "10.0.3.7 is a private address (10.0.0.0/8)" in found[0]
    assert "the probe function runs outside any VPC" in found[0]
    assert "subnet_ids and security_group_ids" in found[0]
    # The local world's functions run on this machine: they reach its loopback and its network.
    assert not [line for line in lines(config, functions_here=None) if "monitors[" in line]


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("192.168.1.4", True),
        ("172.31.0.2", True),
        ("172.32.0.2", False),
        ("127.0.0.1", True),
        ("[::1]", True),
        ("fd00::5", True),
        ("db.local", True),
        ("ip-10-0-0-1.ec2.internal", True),
        ("localhost", True),
        ("app.corp.test", False),
        ("8.8.8.8", False),
    ],
)
def test_which_hosts_only_a_private_network_reaches(host: str, private: bool) -> None:
    reason = private_reason(host)
    assert (reason is not None and reason[0]) is private
