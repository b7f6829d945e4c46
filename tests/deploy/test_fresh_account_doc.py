"""docs/fresh-account.md quotes `check --live` as it prints: each quoted line comes from the code."""

from __future__ import annotations

import re
from dataclasses import replace

from autoheal_ops.account_checks import (
    OPEN_POLICY,
    concurrency_findings,
    public_access_findings,
    reachability_findings,
    sms_findings,
    subscription_findings,
)
from autoheal_ops.stage import ROOT, UNRESERVED_MINIMUM, functions, reservation
from chalicelib.config.model import Monitor

DOC = (ROOT / "docs" / "fresh-account.md").read_text()
QUOTED = set(re.findall(r"^((?:error|warning): .*)$", DOC, flags=re.MULTILINE))
ACCOUNT, BUCKET = "123456789012", "autoheal-prod-status-123456789012-us-east-1"
TOPIC = "arn:aws:sns:us-east-1:123456789012:autoheal-prod-notify"


def test_every_finding_the_doc_quotes_is_what_the_check_prints() -> None:
    opted_in = replace(reservation("prod"), enabled=True)
    block = {"BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    email = f"{TOPIC}:5b1f0c9e-1d2a-4c3b-9e8f-7a6b8c41d2e0"
    findings = [
        *concurrency_findings("prod", 10, 10, 0, opted_in),
        *concurrency_findings("prod", 10, 10, 0, reservation("prod")),
        *public_access_findings(
            f"account {ACCOUNT}'s Block Public Access",
            block,
            f"aws s3control put-public-access-block --account-id {ACCOUNT} {OPEN_POLICY}",
        ),
        *public_access_findings(
            f"bucket {BUCKET}'s Block Public Access",
            {"BlockPublicPolicy": True},
            f"aws s3api put-public-access-block --bucket {BUCKET} {OPEN_POLICY}",
        ),
        *sms_findings(True, {"+15550100"}, {f"{TOPIC}:0d4e5f6a-3f2a9c1d": "+15550199"}),
        *subscription_findings(
            "autoheal-prod-notify",
            [
                {"SubscriptionArn": "PendingConfirmation", "Protocol": "email", "Endpoint": "ops@corp.test"},
                {"SubscriptionArn": email, "Protocol": "email", "Endpoint": "ops@corp.test"},
            ],
            {email: ""},
        ),
        *reachability_findings([Monitor(name="db", url="tcp://10.0.3.7:5432", kind="tcp")], in_vpc=False),
    ]
    printed = {finding.line for finding in findings}
    assert len(printed) == 8
    assert printed <= QUOTED, sorted(printed - QUOTED)
    refused = {line for line in QUOTED - printed if line.startswith("warning: could not look up")}
    assert QUOTED - printed == refused and len(refused) == 1


def test_the_doc_names_the_opt_in_key_and_the_figures() -> None:
    planned = sum(reservation("prod").planned(functions()).values())
    assert "reserved_concurrency_opt_in" in DOC and '"enabled": false' in DOC
    assert f"{planned} in all" in DOC and f"({planned + UNRESERVED_MINIMUM} for prod)" in DOC
