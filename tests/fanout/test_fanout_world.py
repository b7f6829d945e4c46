"""Scheduler -> SQS -> worker in the local world: moto's SQS, DynamoDB and S3, real HTTP servers.

The worker is driven as Lambda's SQS poller drives it (sandbox.sqs_poller): a message whose
handler fails, or whose worker dies, is not deleted and comes back after the visibility timeout.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from chalicelib import wiring
from chalicelib.aws.clients import client
from chalicelib.fanout.plan import plan_shards
from chalicelib.fanout.scheduler import FanOutRun, ShardQueue
from chalicelib.fanout.worker import ShardWorker
from chalicelib.probe.engine import ProbeEngine
from chalicelib.state.store import StateStore
from chalicelib.statuspage.site import StatusSite
from sandbox.sqs_poller import SqsPoller, shard_queues
from tests.support.servers import SocketServer, hang

MONITORS = ["a1", "a2", "b1", "b2", "c1", "c2"]


@pytest.fixture
def world(deploy, httpserver):
    httpserver.expect_request("/healthz").respond_with_json({"status": "ok"})
    lines = ["monitors:"]
    for name in MONITORS:
        lines += [
            f"  - name: {name}",
            f"    url: {httpserver.url_for('/healthz')}?m={name}",
            "    timeout: 1s",
            "    retries: 0",
            "    failure_threshold: 1",
            "    success_threshold: 1",
        ]
    deployment = deploy("\n".join(lines) + "\n")
    return deployment


class Fanout:
    def __init__(self, visibility: int = 2) -> None:
        self.config = wiring.config()
        self.plan = plan_shards(MONITORS, capacity=2)
        self.queue, self.dlq = shard_queues("autoheal-probe-shards", visibility=visibility)
        self.engine = ProbeEngine(workers=8)
        self.worker = ShardWorker(self.config, self.engine)
        self.first_tick = float(int(time.time()) // 60 * 60)
        self.poller = SqsPoller(
            self.queue, lambda event: self.worker.handle(event["Records"], time.monotonic() + 30)
        )

    def schedule(self, offset: float = 0.0) -> dict:
        """The `probe` function of the minute `offset` seconds after the first one: it sends that
        minute's messages (due now: no spread) and shows the minute before on the site."""
        site = StatusSite(self.config)
        run = FanOutRun(self.config, ShardQueue(self.queue), plan=self.plan, spread=0, site=site)
        tick, errors = self.first_tick + offset, []
        sent = run.schedule(tick, time.time())
        assert sent.failed == []
        return {"sent": len(sent.messages), "failed": sent.failed, "site": run.publish_site(tick, errors)}

    def shard_monitors(self, index: int) -> tuple[str, ...]:
        return self.plan.shards[index].monitors


def site_statuses() -> dict[str, str]:
    body = client("s3").get_object(Bucket="autoheal-status", Key="status.json")["Body"].read()
    return {c["name"]: c["status"] for c in json.loads(gzip.decompress(body))["components"]}


def test_every_shard_reports_and_the_site_shows_them_up(world):
    fanout = Fanout(visibility=60)
    first = fanout.schedule()
    shards = len(fanout.plan.shards)
    assert shards > 1 and first["sent"] == shards and first["failed"] == []
    assert fanout.poller.poll() == shards
    assert fanout.schedule(offset=60)["site"] == {"reported": 6, "unknown": 0}
    assert set(site_statuses().values()) == {"UP"}
    assert {n: s.status for n, s in StateStore("autoheal-state").load().items()} == dict.fromkeys(
        MONITORS, "UP"
    )


def test_a_hung_shard_is_shown_unknown_never_up(world):
    fanout = Fanout(visibility=60)  # as in AWS, longer than the worker may run
    fanout.schedule()
    fanout.poller.poll()
    fanout.schedule(offset=60)
    assert set(site_statuses().values()) == {"UP"}
    # The next minute, one shard's worker takes its message and hangs: it never reports.
    held = fanout.poller.receive()
    hung = json.loads(held[0]["body"])["shard"]
    fanout.poller.poll()
    silent = len(fanout.shard_monitors(hung))
    assert fanout.schedule(offset=120)["site"] == {"reported": 6 - silent, "unknown": silent}
    shown = site_statuses()
    assert {n: shown[n] for n in fanout.shard_monitors(hung)} == dict.fromkeys(
        fanout.shard_monitors(hung), "UNKNOWN"
    )
    stored = StateStore("autoheal-state").load()
    assert all(stored[n].status == "UP" for n in fanout.shard_monitors(hung))  # what it last saw, not shown


def test_a_lost_message_shows_its_shard_unknown_and_the_next_cycle_covers_it(world):
    fanout = Fanout(visibility=60)
    fanout.schedule()
    lost = fanout.poller.receive()  # SQS loses it: deleted unread
    client("sqs").delete_message(QueueUrl=fanout.queue, ReceiptHandle=lost[0]["receiptHandle"])
    fanout.poller.poll()
    missing = fanout.shard_monitors(json.loads(lost[0]["body"])["shard"])
    assert fanout.schedule(offset=60)["site"] == {"reported": 6 - len(missing), "unknown": len(missing)}
    assert {site_statuses()[n] for n in missing} == {"UNKNOWN"}
    assert fanout.poller.poll() == len(
        fanout.plan.shards
    )  # the next minute's messages, the lost shard's among them
    assert fanout.schedule(offset=120)["site"] == {"reported": 6, "unknown": 0}
    assert set(site_statuses().values()) == {"UP"}


WORKER = """
import os, sys, time
from chalicelib import wiring
from chalicelib.fanout.worker import ShardWorker
from chalicelib.probe.engine import ProbeEngine
from sandbox.sqs_poller import SqsPoller
worker = ShardWorker(wiring.config(), ProbeEngine(workers=8))
poller = SqsPoller(sys.argv[1], lambda e: worker.handle(e["Records"], time.monotonic() + 30))
records = poller.receive()
print(len(records), flush=True)
poller.deliver(records)
"""


def test_a_worker_dying_mid_shard_leaves_its_message_to_be_retried_and_skips_no_monitor(deploy):
    hanging = SocketServer(hang)
    try:
        lines = ["monitors:"]
        for name in MONITORS:
            lines += [
                f"  - name: {name}",
                f"    url: http://127.0.0.1:{hanging.port}/{name}",
                "    timeout: 3s",
            ]
            lines += ["    retries: 0", "    failure_threshold: 1"]
        deploy("\n".join(lines) + "\n")
        fanout = Fanout(visibility=2)
        fanout.schedule()
        child = subprocess.Popen(
            [sys.executable, "-c", WORKER, fanout.queue],
            stdout=subprocess.PIPE,
            env=dict(os.environ),
            text=True,
        )
        assert child.stdout.readline().strip() == "1"  # it holds a message and probes hanging monitors
        time.sleep(0.5)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        time.sleep(2.5)  # the visibility timeout: the message is back
        received = []
        while records := fanout.poller.receive():
            received += [
                (r["attributes"].get("ApproximateReceiveCount"), json.loads(r["body"])["shard"])
                for r in records
            ]
            fanout.poller.deliver(records)
        assert sorted(shard for _, shard in received) == list(range(len(fanout.plan.shards)))
        assert "2" in {count for count, _ in received}  # the dead worker's message, received again
        assert fanout.schedule(offset=60)["site"] == {"reported": 6, "unknown": 0}
        stored = StateStore("autoheal-state").load()
        assert {n: s.status for n, s in stored.items()} == dict.fromkeys(MONITORS, "DOWN")
    finally:
        hanging.stop()


def test_a_message_failing_three_times_lands_on_the_dead_letter_queue(world):
    fanout = Fanout(visibility=60)  # failed messages come back in seconds all the same
    client("dynamodb").delete_table(TableName="autoheal-state")  # every shard's state read fails
    fanout.schedule()
    failures = 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        records = fanout.poller.receive(wait=1)
        failures += len(fanout.poller.deliver(records))
        dead = client("sqs").get_queue_attributes(
            QueueUrl=fanout.dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        if int(dead) == len(fanout.plan.shards):
            break
    # Every shard's message: three receives each, then dead-lettered.
    assert int(dead) == len(fanout.plan.shards) and failures == 3 * len(fanout.plan.shards)


def keep_alive(conn) -> None:
    """Answers every request on the connection, HTTP/1.1 keep-alive."""
    from tests.support.servers import read_request

    body = b'{"status": "ok"}'
    while read_request(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def test_a_warm_worker_handed_another_shard_keeps_no_connection_of_the_last(deploy):
    servers = {name: SocketServer(keep_alive) for name in MONITORS}
    try:
        lines = ["monitors:"]
        for name in MONITORS:
            lines += [f"  - name: {name}", f"    url: http://127.0.0.1:{servers[name].port}/healthz"]
        deploy("\n".join(lines) + "\n")
        fanout = Fanout(visibility=60)
        fanout.schedule()
        records = []
        while batch := fanout.poller.receive():
            records += batch
        for record in records:  # one warm container, handed every shard in turn
            assert fanout.worker.handle([record], time.monotonic() + 30) == {"batchItemFailures": []}
        last = json.loads(records[-1]["body"])["monitors"]
        assert all(servers[n].connections for n in MONITORS)  # every shard was probed on keep-alive
        assert fanout.engine.pool.idle_count() == len(last)  # the last shard's, and no other's
    finally:
        for server in servers.values():
            server.stop()


def test_a_message_read_more_than_a_minute_late_is_dropped_not_failed(world):
    from chalicelib.fanout.summaries import SummaryStore
    from tests.fanout.events import shard_event

    fanout = Fanout(visibility=60)
    event = shard_event(("a1", "a2"), "arn:aws:sqs:us-east-1:123456789012:autoheal-probe-shards", age=61)
    assert fanout.worker.handle(event["Records"], time.monotonic() + 30) == {"batchItemFailures": []}
    assert SummaryStore("autoheal-state").load() == []  # nothing probed: no report, shown unknown
