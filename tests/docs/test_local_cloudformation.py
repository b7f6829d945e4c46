"""The local CloudFormation deploys what `aws cloudformation deploy --s3-bucket` sends it: a SAM
template, by a TemplateURL on the local server's own address (sandbox/moto_server.py)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import pytest

from sandbox.moto_server import MotoServer

pytestmark = pytest.mark.world

BUCKET = "artifacts"
SAM_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Transform": "AWS::Serverless-2016-10-31",
    "Resources": {
        "Probe": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "FunctionName": "autoheal-test-probe",
                "Runtime": "python3.12",
                "Handler": "app.probe",
                "CodeUri": f"s3://{BUCKET}/code.zip",
                "Events": {"Tick": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}}},
            },
        }
    },
}


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


def code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def probe(event, context):\n    return {}\n")
    return buffer.getvalue()


def test_a_sam_template_by_url_becomes_its_functions_and_schedules(aws: MotoServer) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code.zip", Body=code_zip())
    s3.put_object(Bucket=BUCKET, Key="stack.template", Body=json.dumps(SAM_TEMPLATE).encode())
    cfn = aws.client("cloudformation")
    cfn.create_stack(
        StackName="autoheal-test",
        TemplateURL=f"{aws.endpoint_url}/{BUCKET}/stack.template",
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    assert cfn.describe_stacks(StackName="autoheal-test")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    function = aws.client("lambda").get_function(FunctionName="autoheal-test-probe")["Configuration"]
    assert function["Handler"] == "app.probe"
    rules = aws.client("events").list_rules()["Rules"]
    assert [r["ScheduleExpression"] for r in rules] == ["rate(1 minute)"]
    types = {
        r["ResourceType"] for r in cfn.describe_stack_resources(StackName="autoheal-test")["StackResources"]
    }
    assert {"AWS::Lambda::Function", "AWS::IAM::Role", "AWS::Events::Rule"} <= types
