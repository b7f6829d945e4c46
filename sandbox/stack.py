"""The stage's resources template, deployed to the local AWS's CloudFormation.

The sandbox provisions from the very template `make package` ships (autoheal_ops.resources), so
local and AWS cannot drift: same table keys, same documents, same queues, log groups, dashboard.
Only the names come from the config, which is the local world's declaration of them (tests name
their own tables and buckets); the stage is ``local``.

moto 5.2.5's CloudFormation reports CREATE_COMPLETE for every resource of the template, but
creates nothing for ``AWS::CloudWatch::Alarm``, ``AWS::SNS::Subscription``,
``AWS::SNS::TopicPolicy`` and ``AWS::S3::BucketPolicy`` (types it does not model), and ignores a
table's ``TimeToLiveSpecification`` and a bucket's ``WebsiteConfiguration``. :func:`apply_dropped`
applies, by hand and from the same template, the two the local world relies on (the status site
and expiring state items). The policies stay out: moto evaluates neither topic nor bucket
policies, so applying them would check nothing. Alarms stay out: moto never evaluates them.
"""

from __future__ import annotations

import json
from typing import Any

from autoheal_ops.package import substituted
from autoheal_ops.resources import stage_template
from autoheal_ops.stage import functions
from chalicelib.aws.clients import client
from chalicelib.config.model import Config

STAGE = "local"
STACK = f"autoheal-{STAGE}"
# Logical id -> (its name property, the config setting that names it locally).
NAMED = {
    "StateTable": ("TableName", "state_table"),
    "AlarmTopic": ("TopicName", "alarm_topic"),
    "NotifyTopic": ("TopicName", "notify_topic"),
    "StatusBucket": ("BucketName", "status_bucket"),
    "RestartDocument": ("Name", "restart_document"),
    "DiagnoseDocument": ("Name", "diagnose_document"),
    "DiagnosticsBucket": ("BucketName", "diagnostics_bucket"),  # when the config names one
}
# Types moto's CloudFormation accepts but does not create (see the module's docstring).
NOT_CREATED_BY_MOTO = frozenset(
    {"AWS::CloudWatch::Alarm", "AWS::SNS::Subscription", "AWS::SNS::TopicPolicy", "AWS::S3::BucketPolicy"}
)


class StackError(RuntimeError):
    """The local stack did not reach CREATE_COMPLETE (the reason is in the message)."""


def local_template(config: Config) -> dict[str, Any]:
    """The stage template as a stack of its own, named by the config's settings."""
    template = substituted(stage_template(STAGE, config, functions(), merged=False))
    for logical, (prop, setting) in NAMED.items():
        if getattr(config.settings, setting) is not None:
            template["Resources"][logical]["Properties"][prop] = getattr(config.settings, setting)
    # The local world is thrown away after each run, and tests delete the table to make reads fail.
    template["Resources"]["StateTable"]["Properties"]["DeletionProtectionEnabled"] = False
    return template


def deploy(template: dict[str, Any]) -> dict[str, str]:
    """Create the stack; its outputs by key."""
    cfn = client("cloudformation")
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": STAGE}],
    )
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":  # moto creates synchronously
        raise StackError(f"stack {STACK}: {stack['StackStatus']} ({stack.get('StackStatusReason', '')})")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def apply_dropped(template: dict[str, Any], outputs: dict[str, str]) -> None:
    """What moto's CloudFormation ignores and the local world needs, from the same properties."""
    resources = template["Resources"]
    website = resources["StatusBucket"]["Properties"]["WebsiteConfiguration"]
    client("s3").put_bucket_website(
        Bucket=outputs["StatusBucketName"],
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": website["IndexDocument"]},
            "ErrorDocument": {"Key": website["ErrorDocument"]},
        },
    )
    ttl = resources["StateTable"]["Properties"]["TimeToLiveSpecification"]
    client("dynamodb").update_time_to_live(TableName=outputs["StateTableName"], TimeToLiveSpecification=ttl)


def deploy_local(config: Config) -> dict[str, str]:
    """The local stack from the shipped template, with what moto drops applied; its outputs."""
    template = local_template(config)
    outputs = deploy(template)
    apply_dropped(template, outputs)
    return outputs
