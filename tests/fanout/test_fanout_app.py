"""Through app.py: `probe` above the threshold hands off to the scheduler, and `probe_worker`
takes Lambda's SQS event and answers with a partial batch response."""

from __future__ import annotations

import json

from chalice.local import LambdaContext

from chalicelib.aws.clients import client
from chalicelib.fanout.plan import THRESHOLD, plan_shards
from chalicelib.fanout.summaries import SummaryStore
from sandbox.ports import free_port
from sandbox.sqs_poller import SqsPoller, shard_queues
from tests.handlers.test_probe_function import invoke_probe


def monitors_yaml(count: int, url: str) -> str:
    lines = ["monitors:"]
    for i in range(count):
        lines += [f"  - name: m{i}", f"    url: {url}?m={i}", "    timeout: 500ms", "    retries: 0"]
        lines += ["    failure_threshold: 1"]
    return "\n".join(lines) + "\n"


def test_probe_over_the_threshold_sends_shards_that_probe_worker_probes(deploy):
    refused = f"http://127.0.0.1:{free_port()}/healthz"
    count = THRESHOLD + 1
    deployment = deploy(monitors_yaml(count, refused))
    queue, _ = shard_queues("autoheal-probe-shards", visibility=60)  # the name app.py reads
    plan = plan_shards(f"m{i}" for i in range(count))
    answer = invoke_probe(deployment)
    assert answer["shards"] == len(plan.shards) > 1 and answer["sent"] == len(plan.shards)
    assert answer["failed"] == [] and "monitors" not in answer  # nothing probed in this invocation
    attributes = client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    visible, delayed = (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesDelayed"]),
    )
    assert visible == 1 and delayed == len(plan.shards) - 1  # spread over the minute

    handler = deployment.app.app.handler_map["probe_worker"]
    responses = []
    poller = SqsPoller(
        queue,
        lambda event: (
            responses.append(handler(event, LambdaContext("probe_worker", 128, 70_000))) or responses[-1]
        ),
    )
    assert poller.poll() == 1
    assert responses == [{"batchItemFailures": []}]
    [summary] = SummaryStore("autoheal-state").load()
    assert sorted(summary.results) == sorted(plan.shards[0].monitors)
    assert {r.reason for r in summary.results.values()} == {"connection refused"}
    alarms = deployment.alarms_published()
    assert len(alarms) == len(plan.shards[0].monitors) and {a["NewStateValue"] for a in alarms} == {"ALARM"}


def test_a_malformed_message_alone_is_failed_in_the_batch(deploy):
    deployment = deploy(monitors_yaml(2, f"http://127.0.0.1:{free_port()}/healthz"))
    queue, _ = shard_queues("autoheal-probe-shards", visibility=60)
    sqs = client("sqs")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"v": 1, "shard": "x"}))
    records = SqsPoller(queue, lambda event: None, batch_size=10).receive()
    from tests.fanout.events import shard_event

    good = shard_event(("m0",), records[0]["eventSourceARN"], bound=2.0)["Records"]
    handler = deployment.app.app.handler_map["probe_worker"]
    answer = handler({"Records": records + good}, LambdaContext("probe_worker", 128, 70_000))
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    [summary] = SummaryStore("autoheal-state").load()
    assert list(summary.results) == ["m0"]
