"""Every AWS call a function makes, recorded with botocore's event hooks, and what IAM authorises
for it: the action, the resource ARN and the condition keys AWS would evaluate.

The hook goes on each boto3 Session as it is created (chalicelib/aws/clients.py makes its clients
from a new Session), before any client exists, so cached clients carry it too. Only calls made
while `Recorder.function` is set are kept: the test's own set-up goes unrecorded.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3.session

from autoheal_ops.policy_eval import Request
from sandbox.moto_server import BATCH_ACTIONS

# botocore's service name -> IAM's action prefix, where they differ.
IAM_PREFIX = {"elbv2": "elasticloadbalancing"}
# Actions IAM authorises on "*" only (no resource-level permissions).
UNSCOPED = {
    "ec2:DescribeInstances",
    "autoscaling:DescribeAutoScalingGroups",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetMetricData",
    "ssm:GetCommandInvocation",
    "ssm:ListCommands",
    "ssm:ListCommandInvocations",
}
# Calls that need no permission at all.
UNAUTHORISED = {"sts:GetCallerIdentity"}


@dataclass(frozen=True)
class Call:
    function: str
    action: str  # IAM's "prefix:Action" (a batch operation's is its single call's)
    params: Mapping[str, Any]


class Recorder:
    def __init__(self) -> None:
        self.function: str | None = None
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def __call__(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        function = self.function
        if function is None:
            return
        service = model.service_model.service_name
        action = f"{IAM_PREFIX.get(service, service)}:{model.name}"
        action = BATCH_ACTIONS.get(action, action)  # a batch is authorised as the call it batches
        with self._lock:
            self.calls.append(Call(function, action, dict(params)))

    @contextlib.contextmanager
    def acting_as(self, function: str) -> Iterator[None]:
        self.function = function
        try:
            yield
        finally:
            self.function = None


@contextlib.contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    """Hook `recorder` into every boto3 Session created meanwhile."""
    original = boto3.session.Session.__init__

    def hooked(self: boto3.session.Session, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.events.register("provide-client-params.*.*", recorder)

    boto3.session.Session.__init__ = hooked  # type: ignore[method-assign]
    try:
        yield recorder
    finally:
        boto3.session.Session.__init__ = original  # type: ignore[method-assign]


class UnmappedCall(LookupError):
    """A call this module cannot turn into IAM requests: add it rather than let it pass unchecked."""


@dataclass(frozen=True)
class Account:
    account: str
    region: str
    instance_tags: Callable[[str], Mapping[str, str]]  # instance id -> its tags, read as admin

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


def instance_requests(action: str, ids: list[str], where: Account, tag_key: str) -> list[Request]:
    """One request per instance, with its tags as `tag_key/<key>` (ssm:resourceTag, aws:ResourceTag)."""
    return [
        Request(
            action,
            where.arn("ec2", f"instance/{i}"),
            {f"{tag_key}/{k}": v for k, v in where.instance_tags(i).items()},
        )
        for i in ids
    ]


def document_arn(name: str, where: Account) -> str:
    if name.startswith("AWS-"):  # AWS's own documents have no account in their ARN
        return f"arn:aws:ssm:{where.region}::document/{name}"
    return where.arn("ssm", f"document/{name}")


def requests_for(call: Call, where: Account) -> list[Request]:
    """What IAM authorises for one call; several requests when it acts on several resources."""
    action, params = call.action, call.params
    if action in UNSCOPED or action.startswith("elasticloadbalancing:Describe"):
        return [Request(action, "*")]
    if action.startswith("dynamodb:"):
        tables = list(params["RequestItems"]) if "RequestItems" in params else [params["TableName"]]
        return [Request(action, where.arn("dynamodb", f"table/{t}")) for t in tables]
    if action == "sns:Publish":
        return [Request(action, params.get("TopicArn") or params["TargetArn"])]
    if action == "sns:Subscribe":
        return [Request(action, params["TopicArn"])]
    if action in ("s3:PutObject", "s3:GetObject"):
        return [Request(action, f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]
    if action == "ssm:GetParameter":
        name = params["Name"]
        return [Request(action, where.arn("ssm", f"parameter{name if name.startswith('/') else '/' + name}"))]
    if action == "ssm:SendCommand":
        if "Targets" in params:
            raise UnmappedCall(f"{call.function}: {action} by Targets")
        document = Request(action, document_arn(params["DocumentName"], where))
        return [document, *instance_requests(action, list(params["InstanceIds"]), where, "ssm:resourceTag")]
    if action == "ec2:RebootInstances":
        return instance_requests(action, list(params["InstanceIds"]), where, "aws:ResourceTag")
    if action in ("elasticloadbalancing:ModifyListener", "elasticloadbalancing:CreateRule"):
        return [Request(action, params["ListenerArn"])]
    if action in ("elasticloadbalancing:ModifyRule", "elasticloadbalancing:DeleteRule"):
        return [Request(action, params["RuleArn"])]
    if action in UNAUTHORISED:
        return []
    raise UnmappedCall(f"{call.function}: no IAM resource mapping for {action}")
