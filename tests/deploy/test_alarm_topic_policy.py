"""Issue 17 item 5: the roles that raise DOWNs when a maintenance ends may publish to the alarms
topic, by their own policy and by the topic's, and nobody else besides CloudWatch and the probe."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from autoheal_ops.iam import policy, stage_config
from autoheal_ops.policy_eval import Request, decide
from autoheal_ops.render import resolve
from autoheal_ops.resources import stage_template
from autoheal_ops.stage import StageNames, functions

ACCOUNT, REGION, STAGE = "123456789012", "us-east-1", "prod"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:autoheal-{STAGE}-alarms"


def topic(stage: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:autoheal-{stage}-alarms"


RAISE_DOWNS = ("maintenance", "follow_up", "on_alarm")


def role(name: str) -> dict[str, str]:
    return {"AWS": f"arn:aws:iam::{ACCOUNT}:role/{name}"}


def evaluated(value: Any, parameters: dict[str, str]) -> Any:
    """The CloudFormation intrinsics the topic policy uses, with `parameters` as the stack's."""
    if isinstance(value, list):
        return [evaluated(v, parameters) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        known = {"AlarmTopic": topic(parameters["Stage"]), "AWS::AccountId": ACCOUNT}
        return known.get(value["Ref"]) or parameters[value["Ref"]]
    if set(value) == {"Fn::Sub"}:
        text = resolve(value["Fn::Sub"], ACCOUNT, REGION)
        return re.sub(r"\$\{(\w+)\}", lambda m: parameters[m.group(1)], text)
    if set(value) == {"Fn::If"}:
        condition, then, otherwise = value["Fn::If"]
        assert condition == "HasProbeRoleName"
        return evaluated(then if parameters["ProbeRoleName"] else otherwise, parameters)
    return {k: evaluated(v, parameters) for k, v in value.items()}


def topic_policy(probe_role_name: str = "", stage: str = STAGE) -> dict:
    """The alarms topic's policy as CloudFormation would create it for `stage`."""
    template = stage_template(stage, stage_config(stage), functions())
    document = template["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]
    return evaluated(document, {"Stage": stage, "ProbeRoleName": probe_role_name})


def publishes(principal: dict[str, str], document: dict, stage: str = STAGE) -> str:
    context = {"aws:PrincipalArn": principal["AWS"]} if "AWS" in principal else {}
    if "Service" in principal:
        context = {"aws:PrincipalServiceName": principal["Service"], "aws:SourceAccount": ACCOUNT}
    return decide(document, Request("sns:Publish", topic(stage), context, principal))


def own_policy(function: str) -> dict:
    text = json.dumps(policy(function, STAGE, stage_config(STAGE)))
    return json.loads(resolve(text, ACCOUNT, REGION))


@pytest.mark.parametrize("function", [*RAISE_DOWNS, "probe"])
def test_the_roles_that_raise_downs_may_publish_to_the_alarms_topic(function):
    assert decide(own_policy(function), Request("sns:Publish", TOPIC)) == "Allow"
    # Same account: the role's Allow suffices unless the topic policy denies it.
    assert publishes(role(StageNames(STAGE).function(function)), topic_policy()) != "Deny"


@pytest.mark.parametrize(
    "principal",
    [
        f"autoheal-{STAGE}-advance",
        f"autoheal-{STAGE}-shift_traffic",
        "autoheal-dev-maintenance",  # the other stage's
        "some-admin",
    ],
)
def test_every_other_principal_is_refused_by_the_topic(principal):
    assert publishes(role(principal), topic_policy()) == "Deny"


def test_cloudwatch_of_the_account_is_allowed_by_the_topic():
    assert publishes({"Service": "cloudwatch.amazonaws.com"}, topic_policy()) == "Allow"


def test_a_renamed_probe_role_replaces_only_the_probes_entry():
    document = topic_policy("custom-probe")
    assert publishes(role("custom-probe"), document) != "Deny"
    assert publishes(role(f"autoheal-{STAGE}-probe"), document) == "Deny"
    assert publishes(role(f"autoheal-{STAGE}-maintenance"), document) != "Deny"


@pytest.mark.parametrize("function", ["advance", "shift_traffic"])
def test_the_shifting_functions_may_not_publish_alarms(function):
    assert decide(own_policy(function), Request("sns:Publish", TOPIC)) == "ImplicitDeny"
