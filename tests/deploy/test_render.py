"""The `chalice deploy` path: a project copy whose policies and environment name one account."""

from __future__ import annotations

import json

import pytest

from autoheal_ops.render import render, resolve
from autoheal_ops.stage import StageNames


def test_the_rendered_stage_names_the_account_and_region_everywhere(tmp_path):
    project = render("dev", "123456789012", "eu-west-1", tmp_path)
    config = json.loads((project / ".chalice" / "config.json").read_text())
    assert list(config["stages"]) == ["dev"]
    bucket = config["stages"]["dev"]["environment_variables"]["AUTOHEAL_STATUS_BUCKET"]
    assert bucket == "autoheal-dev-status-123456789012-eu-west-1"
    policies = sorted((project / ".chalice").glob("policy-dev-*.json"))
    assert len(policies) == len(config["stages"]["dev"]["lambda_functions"])
    texts = [path.read_text() for path in policies]
    assert not [t for t in texts if "${" in t]
    for path in policies:  # each names its function's log group (the API handler's: autoheal-dev)
        function = StageNames("dev").function(path.stem.removeprefix("policy-dev-"))
        group = f"arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/{function}"
        assert f'"{group}"' in path.read_text() and f'"{group}:*"' in path.read_text(), path.name
    assert (project / "app.py").is_file() and (project / "chalicelib" / "configs" / "dev.yaml").is_file()


def test_an_unknown_pseudo_parameter_is_refused():
    with pytest.raises(ValueError, match="unknown pseudo parameter"):
        resolve("arn:${AWS::Partition}:s3:::${AWS::StackName}", "123456789012", "eu-west-1")
