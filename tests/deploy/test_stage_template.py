"""The generated parts of the stage's template: per function and per monitor, from the config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from autoheal_ops.resources import stage_template
from autoheal_ops.stage import ASYNC_FUNCTIONS, SCHEDULED_FUNCTIONS, StageNames, functions
from chalicelib.config import parse_config

BIN = Path(sys.executable).parent
CONFIG = """
settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}
monitors:
  - {name: web, url: "https://app.test/healthz", metrics: true, expect: {max_response_time: 2s}}
  - {name: api, url: "https://app.test/api/healthz"}
"""


def of_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v.get("Type") == kind}


def test_alarms_only_for_monitors_with_metrics():
    alarms = of_type(stage_template("dev", parse_config(CONFIG), functions()), "AWS::CloudWatch::Alarm")
    per_monitor = sorted(
        a["AlarmName"]
        for a in alarms.values()
        if any(d["Name"] == "Monitor" for d in a.get("Dimensions", []))
    )
    assert per_monitor == ["autoheal-dev-web-availability", "autoheal-dev-web-latency"]
    latency = next(a for a in alarms.values() if a["AlarmName"] == "autoheal-dev-web-latency")
    assert latency["Threshold"] == 2000 and latency["Namespace"] == "Autoheal/dev"


def test_each_async_function_fails_into_its_own_queue_with_an_alarm_on_its_depth():
    template = stage_template("prod", parse_config(CONFIG), functions())
    queues = {k: q for k, q in of_type(template, "AWS::SQS::Queue").items() if k.endswith("FailureQueue")}
    assert sorted(queues) == sorted(
        f"{''.join(p.capitalize() for p in f.split('_'))}FailureQueue" for f in ASYNC_FUNCTIONS
    )
    for logical in queues:
        function = logical.removesuffix("FailureQueue")
        destination = template["Resources"][function]["Properties"]["EventInvokeConfig"]["DestinationConfig"][
            "OnFailure"
        ]
        assert destination["Destination"] == {"Fn::GetAtt": [logical, "Arn"]}
        depth = template["Resources"][f"{logical}Alarm"]["Properties"]
        assert (
            depth["Dimensions"][0]["Value"] == {"Fn::GetAtt": [logical, "QueueName"]}
            and depth["Threshold"] == 0
        )


def test_heartbeats_errors_and_log_retention_per_function():
    template = stage_template("dev", parse_config(CONFIG), functions())
    names = {a["AlarmName"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()}
    assert {f"autoheal-dev-{f}-heartbeat" for f in SCHEDULED_FUNCTIONS} <= names
    assert {f"autoheal-dev-{f}-errors" for f in functions()} <= names
    groups = of_type(template, "AWS::Logs::LogGroup")
    assert sorted(g["LogGroupName"] for g in groups.values()) == sorted(
        f"/aws/lambda/{StageNames('dev').function(f)}"
        for f in functions()  # api_handler: autoheal-dev
    )
    assert all(g["RetentionInDays"] == 30 for g in groups.values())


def test_the_standalone_resources_stack_lints_and_leaves_the_functions_to_chalice(tmp_path):
    import json

    from autoheal_ops.package import substituted

    template = substituted(stage_template("dev", parse_config(CONFIG), functions(), merged=False))
    assert all("Type" in r for r in template["Resources"].values())
    path = tmp_path / "resources.json"
    path.write_text(json.dumps(template))
    linted = subprocess.run([str(BIN / "cfn-lint"), str(path)], capture_output=True, text=True, check=False)
    assert linted.returncode == 0, linted.stdout


def test_the_alarms_subscription_waits_for_the_topic_it_names(tmp_path):
    import json

    from autoheal_ops.package import package

    template = json.loads(package("dev", tmp_path).read_text())
    events = template["Resources"]["OnAlarm"]["Properties"]["Events"]
    assert events["OnAlarmSnsSubscription"] == {"Type": "SNS", "Properties": {"Topic": {"Ref": "AlarmTopic"}}}
