"""The scheduler's messages (pure) and its sends against the local SQS."""

from __future__ import annotations

import time

from chalicelib import wiring
from chalicelib.config import parse_config
from chalicelib.fanout.plan import plan_shards
from chalicelib.fanout.scheduler import BATCH, FanOutRun, ShardQueue, batches, messages
from sandbox.sqs_poller import shard_queues

SETTINGS = """settings:
  state_table: autoheal-state
  alarm_topic: autoheal-alarms
  notify_topic: autoheal-notify
  status_bucket: autoheal-status
"""


def config(count: int, every: str | None = None):
    lines = [SETTINGS + (f"  probe_every: {every}\n" if every else "") + "monitors:"]
    for i in range(count):
        lines += [f"  - name: m{i}", f"    url: http://127.0.0.1:9/{i}", "    timeout: 2s", "    retries: 1"]
    return parse_config(("\n".join(lines) + "\n").encode(), source="test.yaml", environ={})


def test_one_message_per_shard_spread_inside_the_minute_and_each_ends_by_its_bound():
    cfg = config(30)
    plan = plan_shards([m.name for m in cfg.monitors], capacity=4)
    found = messages(cfg, plan, tick=600.0, now=601.0)
    assert sorted(m.shard for m in found) == list(range(len(plan.shards)))
    bound = 2 * 2 + 0.2 + 1.0  # both attempts to their timeouts, the backoff, the summary's reserve
    assert all(abs((m.ends - m.due) - bound) < 1e-9 for m in found)
    assert max(m.ends for m in found) <= 601.0 + 60.0
    dues = [m.due for m in found]
    assert dues == sorted(dues) and dues[-1] - dues[0] >= 60 - bound - 10  # spread, not a burst


def test_sub_minute_cadence_sends_one_message_per_shard_per_cycle():
    cfg = config(30, every="10s")
    plan = plan_shards([m.name for m in cfg.monitors], capacity=4)
    found = messages(cfg, plan, tick=600.0, now=600.0)
    assert len(found) == 6 * len(plan.shards)
    for shard in plan.shards:
        mine = sorted((m for m in found if m.shard == shard.index), key=lambda m: m.cycle)
        assert [m.cycle for m in mine] == list(range(6))
        assert all(b.due - a.due == 10.0 for a, b in zip(mine, mine[1:], strict=False))
        assert all(m.ends - m.due <= 10.0 for m in mine)


def test_batches_hold_ten_entries_and_stay_under_the_request_size():
    cfg = config(30)
    found = messages(cfg, plan_shards([m.name for m in cfg.monitors], capacity=1), 0.0, 0.0)
    groups = batches(found)
    assert [m for g in groups for m in g] == found
    assert all(len(g) <= BATCH and sum(len(m.body()) for m in g) < 256 * 1024 for g in groups)


class CountingQueue(ShardQueue):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.calls = 0

    def send(self, batch, now):
        self.calls += 1
        return super().send(batch, now)


def test_a_refused_send_is_tried_once_more_then_reported(local_aws):
    cfg = config(12)
    plan = plan_shards([m.name for m in cfg.monitors], capacity=4)
    queue = CountingQueue("http://localhost/000000000000/no-such-queue")
    result = FanOutRun(cfg, queue, plan=plan).invoke(time.monotonic() + 50)
    assert queue.calls == 2 * len(batches(messages(cfg, plan, 0.0, 0.0)))
    assert sorted(f["shard"] for f in result["failed"]) == list(range(len(plan.shards)))
    assert result["sent"] == 0 and len(result["errors"]) >= len(plan.shards)


def test_sent_messages_wait_for_their_delay_in_the_queue(local_aws):
    cfg = config(12)
    plan = plan_shards([m.name for m in cfg.monitors], capacity=4)
    url, _ = shard_queues("autoheal-probe-shards")
    from chalicelib.aws.clients import client

    run = FanOutRun(cfg, ShardQueue(url), plan=plan)
    sent = run.schedule(tick=0.0, now=time.time())
    assert len(sent.messages) == len(plan.shards) and sent.failed == []
    visible = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(visible) == 1  # the first shard at once; the others are delayed across the minute
    wiring.reset()


def test_a_scheduler_without_a_site_leaves_the_public_page_alone(local_aws):
    # A vantage point other than the home region: its view is a vote, never the public page.
    cfg = config(12)
    plan = plan_shards([m.name for m in cfg.monitors], capacity=4)
    url, _ = shard_queues("autoheal-probe-shards")
    result = FanOutRun(cfg, ShardQueue(url), plan=plan, site=None).invoke(time.monotonic() + 50)
    assert result["site"] == {} and result["errors"] == []
