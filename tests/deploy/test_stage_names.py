"""Names derive from the stage; a config naming anything else fails the check before deploying."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoheal_ops.check import name_errors
from autoheal_ops.iam import stage_config
from autoheal_ops.stage import StageNames, stage_environment, stages
from chalicelib.config import parse_config

SETTINGS = (
    "settings: {{state_table: {t}, alarm_topic: {a}, notify_topic: {n}, status_bucket: {b},"
    " restart_document: autoheal-dev-restart}}\n"
)


def test_dev_and_prod_share_no_name():
    dev, prod = (set(StageNames(s).environment().values()) for s in ("dev", "prod"))
    assert not dev & prod


@pytest.mark.parametrize("stage", stages())
def test_each_stage_environment_names_its_own_resources_and_its_config_uses_them(stage):
    assert {k: v for k, v in stage_environment(stage).items() if k in StageNames(stage).environment()} == (
        StageNames(stage).environment()
    )
    config = stage_config(stage)
    assert config.settings.state_table == f"autoheal-{stage}-state"
    assert name_errors(stage, config) == []


def test_a_config_renaming_the_table_fails_with_the_key_and_the_expected_name():
    names = StageNames("dev")
    text = SETTINGS.format(
        t="my-table",
        a=names.alarm_topic,
        n=names.notify_topic,
        b="autoheal-dev-status-123456789012-eu-west-1",
    )
    errors = name_errors("dev", parse_config(text))
    assert errors == [
        "settings.state_table: 'my-table' is not what the dev stage creates and grants"
        " (expected 'autoheal-dev-state'; write ${AUTOHEAL_STATE_TABLE})"
    ]


@pytest.mark.parametrize(
    "bucket", ["autoheal-prod-status-123456789012-eu-west-1", "autoheal-status", "autoheal-dev-status-1-x"]
)
def test_the_status_bucket_must_be_the_stages_in_some_account_and_region(bucket):
    names = StageNames("dev")
    text = SETTINGS.format(t=names.state_table, a=names.alarm_topic, n=names.notify_topic, b=bucket)
    assert [e.split(":")[0] for e in name_errors("dev", parse_config(text))] == ["settings.status_bucket"]


def test_the_shipped_stage_configs_are_refused_until_they_name_real_endpoints():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "autoheal_ops", "--stage", "prod", "check"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "monitors[0].url: app.example.com is the shipped example: name your own endpoint" in done.stderr
