"""What ships: the Lambda requirements, the CloudFormation template, the stage config."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the virtual environment's commands


def test_lambda_requirements_never_carry_the_aws_sdk_or_test_tools():
    names = [
        re.split(r"[<>=\[ ;#]", line.strip(), maxsplit=1)[0].lower()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert names and not {"boto3", "botocore", "moto", "pytest", "chalice"} & set(names)


@pytest.mark.parametrize("template", ["autoheal.yaml", "cloudfront-error-pages.yaml"])
def test_resources_template_passes_cfn_lint(template):
    linted = subprocess.run(
        [str(BIN / "cfn-lint"), str(ROOT / "resources" / template)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_cloudfront_serves_the_maintenance_page_for_gateway_errors_briefly_and_as_503():
    import yaml

    loader = type("Tagged", (yaml.SafeLoader,), {})
    loader.add_multi_constructor("!", lambda load, tag, node: {tag: load.construct_scalar(node)})
    template = yaml.load((ROOT / "resources" / "cloudfront-error-pages.yaml").read_text(), loader)
    config = template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    responses = {r["ErrorCode"]: r for r in config["CustomErrorResponses"]}
    assert sorted(responses) == [502, 503, 504]
    assert all(
        r["ResponseCode"] == 503 and r["ResponsePagePath"] == "/maintenance.html" for r in responses.values()
    )
    assert template["Parameters"]["ErrorCachingSeconds"]["MaxValue"] <= 10
    assert template["Parameters"]["ErrorCachingSeconds"]["Default"] <= 10


def test_every_stage_names_a_valid_config_and_a_policy_per_function():
    from autoheal_ops.iam import stage_config
    from autoheal_ops.stage import functions

    chalice = json.loads((ROOT / ".chalice" / "config.json").read_text())
    for name, stage in chalice["stages"].items():
        stage_config(name)  # with the stage's environment, as Lambda loads it
        assert "iam_policy_file" not in stage, f"{name}: one role per function, not one for all"
        assert sorted(stage["lambda_functions"]) == functions()
        for function, settings in stage["lambda_functions"].items():
            assert settings["iam_policy_file"] == f"policy-{name}-{function}.json"
            assert (ROOT / ".chalice" / settings["iam_policy_file"]).is_file()


def test_make_package_writes_a_merged_template_that_lints_and_a_small_zip(tmp_path):
    from autoheal_ops.package import package

    sam = package("prod", tmp_path)
    archive = zipfile.ZipFile(sam.parent / "deployment.zip")
    top = {name.split("/", 1)[0] for name in archive.namelist()}
    assert {"app.py", "chalicelib", "aws_lambda_powertools", "requests", "yaml", "h11"} <= top
    assert not {name for name in top if name.split("-")[0] in {"boto3", "botocore", "moto", "pytest"}}
    assert "chalicelib/configs/prod.yaml" in archive.namelist()
    assert (sam.parent / "deployment.zip").stat().st_size <= 5 * 1024 * 1024
    for template in (sam, tmp_path / "prod" / "resources.json"):
        linted = subprocess.run(
            [str(BIN / "cfn-lint"), str(template)], capture_output=True, text=True, check=False
        )
        assert linted.returncode == 0, linted.stdout


def test_autoheal_checks_restart_parameters_exactly_as_the_deployed_document_does():
    from chalicelib.config.model import SERVICE_MANAGERS
    from chalicelib.runbooks.actions import SERVICE_NAME
    from sandbox.provision import restart_document_content

    parameters = restart_document_content()["parameters"]
    assert parameters["service"]["allowedPattern"] == SERVICE_NAME.pattern
    assert parameters["manager"]["allowedValues"] == list(SERVICE_MANAGERS)
    assert all(p["interpolationType"] == "ENV_VAR" for p in parameters.values())


def test_the_valkey_promotion_document_validates_its_parameters_like_the_restart_one():
    import yaml

    from sandbox.provision import TEMPLATE, cfn_loader

    template = yaml.load(TEMPLATE.read_text(), Loader=cfn_loader())
    document = template["Resources"]["ValkeyPromoteDocument"]["Properties"]
    assert document["Name"]["Sub"].startswith("autoheal-${Stage}-")  # the stage's, as the policy grants
    parameters = document["Content"]["parameters"]
    assert set(parameters) == {"master", "sentinel", "port"}
    for name, parameter in parameters.items():
        pattern = re.compile(parameter["allowedPattern"])
        assert parameter["interpolationType"] == "ENV_VAR", name
        assert pattern.pattern.startswith(("^[A-Za-z0-9]", "^[0-9]")), name  # never an option
        assert pattern.fullmatch(parameter["default"]), name  # runs with no parameters too
        for hostile in ("-h evil", "a;reboot", "$(id)", "x y", ""):
            assert not pattern.fullmatch(hostile), (name, hostile)
    script = "\n".join(document["Content"]["mainSteps"][0]["inputs"]["runCommand"])
    assert "{{" not in script  # no parameter is pasted into the script's text


def test_the_parameter_patterns_the_config_checks_are_the_shipped_documents_own():
    from chalicelib.runbooks.documents import SHIPPED
    from sandbox.provision import TEMPLATE, cfn_loader

    template = yaml_load(TEMPLATE, cfn_loader())

    def name(resource):  # a stage's own document is named through !Sub
        found = resource["Properties"]["Name"]
        return (found["Sub"] if isinstance(found, dict) else found).replace("autoheal-${Stage}-", "")

    shipped = {
        name(resource): resource["Properties"]["Content"]["parameters"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::SSM::Document"
    }
    for document, patterns in SHIPPED.items():
        declared = {name: p["allowedPattern"] for name, p in shipped[document].items()}
        assert {name: p.pattern for name, p in patterns.items()} == declared, document


def yaml_load(path, loader):
    import yaml

    return yaml.load(path.read_text(), Loader=loader)
