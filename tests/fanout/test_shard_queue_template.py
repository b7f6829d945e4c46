"""The shard queue in the stage's template: redrive after three receives, a paging alarm on the
dead letters, partial batch responses and a concurrency cap on the worker's event source."""

from __future__ import annotations

from autoheal_ops.iam import policy
from autoheal_ops.resources import SHARD_RECEIVES, SHARD_VISIBILITY, stage_template
from autoheal_ops.stage import StageNames, functions
from chalicelib.config import parse_config
from chalicelib.fanout.setup import queue_name

CONFIG = parse_config(
    b"settings: {state_table: autoheal-dev-state, alarm_topic: a, notify_topic: n, status_bucket: b}\n"
    b"monitors:\n  - {name: web, url: 'https://app.test/healthz'}\n",
    source="t.yaml",
    environ={},
)


def test_the_shard_queue_dead_letters_after_three_receives_and_its_depth_pages():
    resources = stage_template("dev", CONFIG, functions())["Resources"]
    queue = resources["ProbeShardQueue"]["Properties"]
    assert queue["QueueName"] == StageNames("dev").probe_queue == queue_name(CONFIG)  # what the app reads
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ProbeShardDeadLetters", "Arn"]},
        "maxReceiveCount": SHARD_RECEIVES,
    }
    assert SHARD_VISIBILITY > 70  # longer than probe_worker's timeout in .chalice/config.json
    alarm = resources["ProbeShardDeadLettersAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["ProbeShardDeadLetters", "QueueName"]}
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["AlarmActions"] == [{"Ref": "NotifyTopic"}]  # people hear of it


def test_the_worker_reports_partial_batch_failures_and_keeps_its_name():
    worker = stage_template("dev", CONFIG, functions())["Resources"]["ProbeWorker"]["Properties"]
    assert worker["FunctionName"] == "autoheal-dev-probe_worker"
    source = worker["Events"]["ProbeWorkerSqsEventSource"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_only_the_scheduler_sends_and_only_the_worker_reads_the_shard_queue():
    def sqs_actions(function: str) -> set[str]:
        statements = policy(function, "dev", CONFIG)["Statement"]
        return {a for s in statements for a in s["Action"] if a.startswith("sqs:") and "Shards" in s["Sid"]}

    assert sqs_actions("probe") == {"sqs:GetQueueUrl", "sqs:SendMessage"}
    assert sqs_actions("probe_worker") == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",  # a failed shard's message is made visible again in seconds
        "sqs:ChangeMessageVisibility",
    }


def test_the_packaged_worker_reads_the_stack_s_own_queue(tmp_path):
    import json

    from autoheal_ops.package import package

    package("dev", out=tmp_path)
    resources = json.loads((tmp_path / "sam.json").read_text())["Resources"]
    source = resources["ProbeWorker"]["Properties"]["Events"]["ProbeWorkerSqsEventSource"]["Properties"]
    assert source["Queue"] == {"Fn::GetAtt": ["ProbeShardQueue", "Arn"]}  # created before the mapping
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["ScalingConfig"] == {"MaximumConcurrency": 50} and source["BatchSize"] == 1
