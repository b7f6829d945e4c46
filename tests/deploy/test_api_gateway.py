"""The app's routes (POST /subscribe) in the packaged template: Chalice's API handler under the
names `chalice deploy` gives it, its REST API throttled at its stage on both deploy paths (the
route is public), and where the form posts as an Output (for settings.subscribe_url)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autoheal_ops.iam import policy_path
from autoheal_ops.package import API_BURST_LIMIT, API_RATE_LIMIT, package
from autoheal_ops.render import deployed_rest_api, set_throttling
from sandbox.moto_server import REGION, sam_translate

STAGE = "prod"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> dict:
    return json.loads(package(STAGE, tmp_path_factory.mktemp("dist")).read_text())


def test_the_api_handler_has_the_names_chalice_deploy_gives_it(packaged):
    """Function <app>-<stage>, role <app>-<stage>-api_handler, the log group its policy names."""
    resources = packaged["Resources"]
    assert all("Type" in r for r in resources.values())  # nothing merged beside Chalice's ids
    assert resources["APIHandler"]["Properties"]["FunctionName"] == "autoheal-prod"
    assert resources["ApiHandlerRole"]["Properties"]["RoleName"] == "autoheal-prod-api_handler"
    assert resources["ApiHandlerLogGroup"]["Properties"]["LogGroupName"] == "/aws/lambda/autoheal-prod"
    [logs] = [
        s
        for s in json.loads(policy_path(STAGE, "api_handler").read_text())["Statement"]
        if s["Sid"] == "Logs"
    ]
    assert logs["Resource"][0].endswith(":log-group:/aws/lambda/autoheal-prod")
    assert "ReservedConcurrentExecutions" not in resources["APIHandler"]["Properties"]


def test_the_packaged_rest_api_is_throttled_at_its_stage(packaged):
    [api] = [r for r in packaged["Resources"].values() if r["Type"] == "AWS::Serverless::Api"]
    assert api["Properties"]["MethodSettings"] == [
        {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 10}
    ]
    # What AWS's SAM transform makes of it, once `aws cloudformation package` uploaded the code:
    # the API Gateway stage carries the throttling.
    uploaded = json.loads(json.dumps(packaged))
    for resource in uploaded["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/deployment.zip"
    parameters = {"Stage": STAGE, "AlertEmail": "ops@example.com", "AlertPhone": ""}
    expanded = sam_translate(uploaded, parameters, REGION)
    [stage] = [r for r in expanded["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage"]
    [setting] = stage["Properties"]["MethodSettings"]
    assert (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == (
        API_RATE_LIMIT,
        API_BURST_LIMIT,
    )
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")


def test_the_packaged_template_exports_the_forms_address_and_lints(packaged, tmp_path):
    output = packaged["Outputs"]["SubscribeURL"]
    assert output["Value"] == {
        "Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/subscribe"
    }
    assert "settings.subscribe_url" in output["Description"]
    template = tmp_path / "sam.json"
    template.write_text(json.dumps(packaged))
    linted = subprocess.run(
        [str(BIN / "cfn-lint"), str(template)], capture_output=True, text=True, check=False
    )
    assert linted.returncode == 0, linted.stdout


def test_path_2_throttles_the_api_chalice_deployed(local_aws, tmp_path):
    """The REST API `chalice deploy` recorded gets the packaged template's throttling."""
    apigateway = local_aws.client("apigateway")
    api = apigateway.create_rest_api(name="autoheal")["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    apigateway.put_method(restApiId=api, resourceId=root, httpMethod="POST", authorizationType="NONE")
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="POST", type="MOCK")
    apigateway.create_deployment(restApiId=api, stageName="api")  # as Chalice's deploy_rest_api does
    record = tmp_path / STAGE / "project" / ".chalice" / "deployed" / f"{STAGE}.json"
    record.parent.mkdir(parents=True)
    resources = [
        {"name": "api_handler", "resource_type": "lambda_function", "lambda_arn": "arn:aws:lambda:x"},
        {
            "name": "rest_api",
            "resource_type": "rest_api",
            "rest_api_id": api,
            "rest_api_url": "https://x/api/",
        },
    ]
    record.write_text(json.dumps({"resources": resources, "schema_version": "2.0", "backend": "api"}))
    assert deployed_rest_api(STAGE, tmp_path) == api
    assert deployed_rest_api("dev", tmp_path) is None  # nothing deployed there: nothing to throttle
    said = set_throttling(STAGE, api, REGION, client=apigateway)
    settings = apigateway.get_stage(restApiId=api, stageName="api")["methodSettings"]["*/*"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (5.0, 10)
    assert said == f"{api}/api: 5 requests a second, bursts of 10"


def test_the_local_aws_builds_chalices_swagger_api_as_aws_does(packaged, local_aws):
    """`chalice deploy` imports the Swagger 2.0 definition; the packaged template's RestApi has it
    as its Body: either way the API has POST /subscribe, proxied to the API handler."""
    body = json.loads(json.dumps(packaged["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]))
    integration = body["paths"]["/subscribe"]["post"]["x-amazon-apigateway-integration"]
    function = f"arn:aws:lambda:{REGION}:123456789012:function:autoheal-prod"
    integration["uri"] = (
        f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function}/invocations"
    )
    apigateway, cloudformation = local_aws.client("apigateway"), local_aws.client("cloudformation")
    imported = apigateway.import_rest_api(body=json.dumps(body).encode())["id"]
    template = {"Resources": {"Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Body": body}}}}
    cloudformation.create_stack(StackName="api", TemplateBody=json.dumps(template))
    [stacked] = [a["id"] for a in apigateway.get_rest_apis()["items"] if a["id"] != imported]
    for api in (imported, stacked):
        [resource] = [
            r for r in apigateway.get_resources(restApiId=api)["items"] if r["path"] == "/subscribe"
        ]
        method = apigateway.get_method(restApiId=api, resourceId=resource["id"], httpMethod="POST")
        assert method["methodIntegration"]["type"].upper() == "AWS_PROXY"  # moto keeps the case given
        assert method["methodIntegration"]["uri"].endswith(f"/functions/{function}/invocations")
        assert apigateway.get_rest_api(restApiId=api)["name"] == "autoheal"
