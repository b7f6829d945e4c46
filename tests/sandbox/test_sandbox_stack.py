"""provision() deploys the shipped resources template to moto's CloudFormation: every resource it
declares exists locally under the config's names, and what moto leaves out is exactly what
sandbox.stack says it leaves out. Against moto in server mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.aws.clients import client
from sandbox.moto_server import MotoServer
from sandbox.provision import provision
from sandbox.stack import NOT_CREATED_BY_MOTO, STACK, local_template
from tests.conftest import SETTINGS

CONFIG = (
    SETTINGS
    + """  restart_document: t-restart
monitors:
  - {name: web, url: "http://127.0.0.1:9/healthz", metrics: true}
"""
)


@pytest.fixture
def config(local_aws: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = tmp_path / "autoheal.yaml"
    path.write_text(CONFIG)
    monkeypatch.setenv("AUTOHEAL_CONFIG", str(path))
    wiring.reset()
    return wiring.config()


def stack_resources() -> dict[str, dict[str, Any]]:
    summaries = client("cloudformation").list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    return {r["LogicalResourceId"]: r for r in summaries}


def test_every_resource_moto_models_exists_under_the_declared_name(config: Any) -> None:
    template = local_template(config)
    provision(config)

    settings = config.settings
    assert client("dynamodb").describe_table(TableName=settings.state_table)["Table"]["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    topics = {t["TopicArn"].rsplit(":", 1)[1] for t in client("sns").list_topics()["Topics"]}
    assert topics == {settings.alarm_topic, settings.notify_topic}
    documents = client("ssm").list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])
    assert {d["Name"] for d in documents["DocumentIdentifiers"]} == {
        "t-restart",
        "autoheal-local-valkey-promote",
        "autoheal-diagnose",  # the config's default name for it, as restart_document's
    }
    restart = client("ssm").get_document(Name="t-restart")
    declared = template["Resources"]["RestartDocument"]["Properties"]["Content"]
    assert json.loads(restart["Content"]) == declared  # the deployed script, as written
    described = client("ssm").describe_document(Name="t-restart")["Document"]
    assert {p["Name"] for p in described["Parameters"]} == set(declared["parameters"])
    queues = {u.rsplit("/", 1)[1] for u in client("sqs").list_queues()["QueueUrls"]}
    declared_queues = {
        r["Properties"]["QueueName"] for r in template["Resources"].values() if r["Type"] == "AWS::SQS::Queue"
    }
    assert declared_queues and declared_queues <= queues
    groups = client("logs").describe_log_groups()["logGroups"]
    assert {g["logGroupName"]: g["retentionInDays"] for g in groups} == {
        r["Properties"]["LogGroupName"]: r["Properties"]["RetentionInDays"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Logs::LogGroup"
    }
    [dashboard] = client("cloudwatch").list_dashboards()["DashboardEntries"]
    body = json.loads(
        client("cloudwatch").get_dashboard(DashboardName=dashboard["DashboardName"])["DashboardBody"]
    )
    assert dashboard["DashboardName"] == "autoheal-local" and len(body["widgets"]) == 4


def test_what_moto_drops_is_applied_from_the_same_template(config: Any) -> None:
    provision(config)
    bucket = config.settings.status_bucket

    website = client("s3").get_bucket_website(Bucket=bucket)
    assert website["ErrorDocument"] == {"Key": "maintenance.html"}  # as deployed: 404s show it
    assert website["IndexDocument"] == {"Suffix": "index.html"}
    ttl = client("dynamodb").describe_time_to_live(TableName=config.settings.state_table)
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiration"}


def test_moto_leaves_out_exactly_the_types_the_sandbox_says_it_does(config: Any) -> None:
    """If moto starts creating one of them, this fails: drop it from NOT_CREATED_BY_MOTO."""
    template = local_template(config)
    provision(config)

    created = stack_resources()
    declared = {logical: r["Type"] for logical, r in template["Resources"].items() if "Condition" not in r}
    missing = {
        declared[logical] for logical in declared if not created.get(logical, {}).get("PhysicalResourceId")
    }
    assert missing == NOT_CREATED_BY_MOTO - {"AWS::SNS::Subscription"}  # both subscriptions are conditional
    assert not client("cloudwatch").describe_alarms()["MetricAlarms"]


def test_the_local_stack_is_named_by_the_config_and_its_stage(config: Any) -> None:
    template = local_template(config)

    resources = template["Resources"]
    assert resources["StateTable"]["Properties"]["TableName"] == "autoheal-state"
    assert resources["StatusBucket"]["Properties"]["BucketName"] == "autoheal-status"
    assert resources["RestartDocument"]["Properties"]["Name"] == "t-restart"
    assert template["Parameters"]["Stage"]["AllowedValues"] == ["local"]
    assert "MonitorWebAvailabilityAlarm" in resources  # generated from the config's monitors
