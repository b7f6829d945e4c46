"""Reserved concurrency is opt-in per stage: a new account's quota of 10 holds no reservation."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from autoheal_ops.package import package
from autoheal_ops.render import render
from autoheal_ops.stage import RESERVATION_KEY, StageNames, chalice_config, functions, reservation, stages


def reservations(sam: Path) -> dict[str, int]:
    resources = json.loads(sam.read_text())["Resources"].values()
    return {
        r["Properties"]["FunctionName"]: r["Properties"]["ReservedConcurrentExecutions"]
        for r in resources
        if r["Type"] == "AWS::Serverless::Function" and "ReservedConcurrentExecutions" in r["Properties"]
    }


def test_no_stage_reserves_anything_as_shipped() -> None:
    for stage in stages():
        settings = chalice_config()["stages"][stage]
        assert not reservation(stage).enabled, stage
        assert "reserved_concurrency" not in settings, stage  # Chalice's own key would bypass the opt-in
        for function in settings["lambda_functions"].values():
            assert "reserved_concurrency" not in function, stage


def test_the_prod_figures_are_kept_beside_the_stage_with_the_quota_rule() -> None:
    setting = chalice_config()["stages"]["prod"][RESERVATION_KEY]
    assert "10" in setting["why"] and "docs/fresh-account.md" in setting["why"]
    planned = reservation("prod").planned(functions())
    assert sum(planned.values()) == 33
    assert planned["probe"] == 1 and planned["on_alarm"] == 10


def test_the_packaged_prod_template_reserves_nothing_by_default(tmp_path: Path) -> None:
    assert reservations(package("prod", tmp_path)) == {}


def test_opting_in_reserves_the_stages_figures(tmp_path: Path) -> None:
    opted_in = replace(reservation("prod"), enabled=True)
    found = reservations(package("prod", tmp_path, reserved=opted_in))
    names = StageNames("prod")
    assert found == {names.function(f): n for f, n in opted_in.planned(functions()).items()}
    assert sum(found.values()) == 33


def test_the_rendered_project_reserves_only_when_opted_in(tmp_path: Path) -> None:
    def reserved_in(project: Path) -> dict[str, int]:
        config = json.loads((project / ".chalice" / "config.json").read_text())
        stage = config["stages"]["prod"]
        assert "reserved_concurrency" not in stage
        return {
            name: settings["reserved_concurrency"]
            for name, settings in stage["lambda_functions"].items()
            if "reserved_concurrency" in settings
        }

    assert reserved_in(render("prod", "123456789012", "eu-west-1", tmp_path / "off")) == {}
    opted_in = replace(reservation("prod"), enabled=True)
    project = render("prod", "123456789012", "eu-west-1", tmp_path / "on", reserved=opted_in)
    assert reserved_in(project) == opted_in.planned(functions())
