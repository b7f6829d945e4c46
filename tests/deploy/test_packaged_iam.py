"""Least privilege, read from what ships: the committed policy files and the packaged template."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from autoheal_ops.iam import STAGE_TAG_KEY, documents, policy_path, rendered, stage_config
from autoheal_ops.package import package
from autoheal_ops.stage import functions, stages
from chalicelib.runbooks.steps import REGISTRY

READ_ONLY = re.compile(r"^[a-z0-9-]+:(Describe|Get|List)[A-Za-z]*$")
STAGE = "prod"


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    return package(STAGE, out)


def role_statements(template: dict) -> dict[str, list[dict]]:
    """Each role's Allow statements, keyed by role logical id."""
    found = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            found[logical] = [
                s for p in resource["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]
            ]
    return found


def resources(statement: dict) -> list:
    value = statement["Resource"]
    return value if isinstance(value, list) else [value]


def actions(statement: dict) -> list[str]:
    value = statement["Action"]
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("stage", stages())
def test_the_committed_policies_are_what_the_generator_writes(stage):
    for path, text in rendered(stage).items():
        assert path.is_file() and path.read_text() == text, f"{path.name} is stale: run make policies"


def test_a_role_per_function_with_its_own_policy_file(packaged):
    template = json.loads(packaged.read_text())
    roles = role_statements(template)
    assert sorted(roles) == sorted(
        f"{''.join(p.capitalize() for p in f.split('_'))}Role" for f in functions()
    )
    probe = {a for s in roles["ProbeRole"] for a in actions(s)}
    assert not {"ssm:SendCommand", "ec2:RebootInstances", "elasticloadbalancing:ModifyListener"} & probe


def test_no_wildcard_action_and_nothing_mutating_on_every_resource(packaged):
    for role, statements in role_statements(json.loads(packaged.read_text())).items():
        for statement in statements:
            assert "*" not in actions(statement) and not any(a.endswith(":*") for a in actions(statement)), (
                role
            )
            if "*" in resources(statement):
                mutating = [a for a in actions(statement) if not READ_ONLY.match(a)]
                assert mutating == [], f"{role} {statement['Sid']}: {mutating} on *"


def test_every_arn_is_pinned_to_the_account_and_region_by_cloudformation(packaged):
    for role, statements in role_statements(json.loads(packaged.read_text())).items():
        for statement in statements:
            for resource in resources(statement):
                if resource == "*":
                    continue
                assert set(resource) == {"Fn::Sub"}, f"{role}: {resource}"
                arn = resource["Fn::Sub"]
                assert "${AWS::AccountId}" in arn and ("${AWS::Region}" in arn or ":s3:::" in arn), arn


def test_send_command_only_on_autoheal_documents_and_tagged_instances(packaged):
    config = stage_config(STAGE)
    tags = [dict(r.targets.tag) for r in config.runbooks.values()]
    for statements in role_statements(json.loads(packaged.read_text())).values():
        for statement in (s for s in statements if "ssm:SendCommand" in actions(s)):
            for resource in (r["Fn::Sub"] for r in resources(statement)):
                if ":document/" in resource:
                    allowed = [f"autoheal-{STAGE}-*", *documents(config)]
                    assert resource.split(":document/", 1)[1] in allowed, resource
                else:
                    assert resource.endswith(":instance/*"), resource
                    condition = statement["Condition"]["StringEquals"]
                    required = {k.removeprefix("ssm:resourceTag/"): v for k, v in condition.items()}
                    assert required.pop(STAGE_TAG_KEY) == STAGE, resource
                    assert required in [*tags, {}], resource


def test_elb_writes_s3_writes_and_publishes_only_on_autoheals_own(packaged):
    config = stage_config(STAGE)
    lbs = {d.listener.load_balancer for d in config.deployments.values()}
    for role, statements in role_statements(json.loads(packaged.read_text())).items():
        for statement in statements:
            arns = [r["Fn::Sub"] for r in resources(statement) if r != "*"]
            for action in actions(statement):
                if action.startswith("elasticloadbalancing:") and not READ_ONLY.match(action):
                    assert arns and all(
                        re.search(r":listener/app/([^/]+)/\*/\*$|:listener-rule/app/([^/]+)/\*/\*/\*$", a)
                        and (set(re.findall(r"/app/([^/]+)/", a)) <= lbs)
                        for a in arns
                    ), f"{role}: {action} on {arns}"
                if action in ("s3:PutObject", "s3:DeleteObject"):
                    assert arns == [
                        f"arn:${{AWS::Partition}}:s3:::autoheal-{STAGE}-status-${{AWS::AccountId}}-${{AWS::Region}}/*"
                    ]
                if action == "sns:Publish":
                    assert arns and all(re.search(rf":autoheal-{STAGE}-(alarms|notify)$", a) for a in arns), (
                        role
                    )


@pytest.mark.parametrize("function", ["on_alarm", "follow_up"])
def test_the_functions_that_run_runbooks_are_granted_every_step_kinds_actions(function):
    granted = {
        a for s in json.loads(policy_path(STAGE, function).read_text())["Statement"] for a in actions(s)
    }
    for kind, step in REGISTRY.items():
        assert set(step.iam_actions) <= granted, (
            f"{function} lacks {set(step.iam_actions) - granted} for {kind}"
        )


def test_the_package_holds_only_what_lambda_needs(packaged):
    archive = packaged.parent / "deployment.zip"
    assert archive.stat().st_size <= 5 * 1024 * 1024
    top = {name.split("/", 1)[0] for name in zipfile.ZipFile(archive).namelist()}
    assert {"app.py", "chalicelib", "h11", "yaml"} <= top
    assert not {
        n
        for n in top
        if n.split("-")[0].split(".")[0] in {"boto3", "botocore", "moto", "pytest", "autoheal_ops"}
    }
