"""The probe's outbox against a hanging or slow SNS, and its limit.

SNS is pointed (AWS_ENDPOINT_URL_SNS) at a socket server on 127.0.0.1 that never answers, or at
one that answers late by relaying to moto, while the rest of AWS stays the moto server.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest
from chalice.local import LambdaContext
from chalice.test import Client

from chalicelib.alarms.message import probe_alarm_message
from chalicelib.aws import clients
from chalicelib.aws.clients import bounded_client
from chalicelib.aws.topics import NoTimeToPublish, publish_json_within
from chalicelib.monitoring.outbox_flush import PUBLISHERS
from chalicelib.monitoring.probe_run import publish_deadline
from chalicelib.state.outbox import OUTBOX_LIMIT, trim
from chalicelib.state.store import StateStore
from chalicelib.state.thresholds import DOWN, UP, MonitorState
from tests.handlers.test_probe_function import monitors_yaml
from tests.support.servers import InFlight, SocketServer, hang, relay_late

BROKEN = tuple(f"m{i}" for i in range(10))


def invoke_probe(deployment, seconds: float) -> tuple[dict, float]:
    """One scheduled invocation with a Lambda timeout of `seconds`: its summary and its duration."""
    event = Client(deployment.app.app).events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    context = LambdaContext("probe", memory_size=256, max_runtime_ms=int(seconds * 1000))
    began = time.monotonic()
    summary = deployment.app.app.handler_map["probe"](event, context)
    return summary, time.monotonic() - began


def sns_at(monkeypatch: pytest.MonkeyPatch, url: str | None) -> None:
    """Point SNS alone at `url` (None: back to the local AWS); the probe's SNS clients are rebuilt,
    the others stay warm as in a running container."""
    if url is None:
        monkeypatch.delenv("AWS_ENDPOINT_URL_SNS", raising=False)
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", url)
    bounded_client.cache_clear()


def invoke_with_sns(
    deployment, monkeypatch: pytest.MonkeyPatch, serve, seconds: float
) -> tuple[dict, float, SocketServer]:
    """One invocation with SNS served by `serve` on 127.0.0.1 (stopped after it): its summary,
    its duration and the server (what it saw)."""
    server = SocketServer(serve)
    try:
        sns_at(monkeypatch, f"http://127.0.0.1:{server.port}")
        summary, took = invoke_probe(deployment, seconds)
    finally:
        server.stop()
    return summary, took, server


def outbox() -> dict[str, list[dict]]:
    return StateStore("autoheal-state").load_with_outbox()[1]


@pytest.fixture
def all_down(deploy, httpserver):
    httpserver.expect_request("/broken").respond_with_json({"status": "error"}, status=500)
    return deploy(monitors_yaml({name: httpserver.url_for("/broken") for name in BROKEN}))


# A short invocation gets the quickest client (one attempt); a longer one the patient client
# (one resend). Either way the first unanswered request ends the cycle's publishing: the ten
# alarms are one PublishBatch, sent once per attempt, and no request starts after it.
@pytest.mark.parametrize(("lambda_seconds", "attempts"), [(3.0, 1), (12.0, 2)])
def test_a_hanging_sns_ends_publishing_in_time_and_the_next_cycle_sends_it(
    all_down, monkeypatch, lambda_seconds, attempts
):
    summary, took, hanging = invoke_with_sns(all_down, monkeypatch, hang, lambda_seconds)
    assert hanging.connections == attempts
    assert took < lambda_seconds, f"{took:.1f}s against a {lambda_seconds}s timeout"
    assert summary["outbox_pending"] == len(BROKEN)
    assert any(f"SNS did not answer; {len(BROKEN)} message(s) kept" in e for e in summary["errors"])
    assert {name: len(messages) for name, messages in outbox().items()} == dict.fromkeys(BROKEN, 1)
    assert all_down.alarms_published() == []

    sns_at(monkeypatch, None)
    again, _ = invoke_probe(all_down, lambda_seconds)
    assert (again["errors"], again["transitions"], again["outbox_pending"]) == ([], [], 0)
    published = all_down.alarms_published()
    assert sorted((m["AlarmName"], m["NewStateValue"]) for m in published) == [
        (f"autoheal-probe-{name}", "ALARM") for name in BROKEN
    ]
    assert outbox() == {}


def test_a_slow_sns_is_cut_off_by_the_publish_deadline_and_nothing_is_lost(all_down, local_aws, monkeypatch):
    # Each publish answers after 0.25 s, within every client's read timeout. A 3 s invocation
    # publishes until 2.4 s (0.6 s kept to save and update the site) and starts none that could
    # end later (the quickest client's worst case is 0.75 s): with PUBLISHERS in flight, about
    # seven rounds of them go out, and the rest of 10 monitors x 10 messages waits.
    backlog = {name: [message(i, name) for i in range(1, 10)] for name in BROKEN}  # UP, DOWN, ..., UP
    StateStore("autoheal-state").save(dict.fromkeys(BROKEN, MonitorState(UP, 0, 1, 1_700_000_000.0)), backlog)
    # each turns DOWN: a tenth message
    summary, took, _ = invoke_with_sns(all_down, monkeypatch, relay_late(local_aws.port, 0.25), 3.0)
    assert took < 3.0, f"{took:.1f}s against a 3s timeout"
    sent = [m["NewStateReason"] for m in all_down.alarms_published()]
    pending = summary["outbox_pending"]
    assert sent and pending >= 1 and len(sent) + pending == 10 * len(BROKEN)
    assert any(f"publish deadline reached; {pending} message(s) kept" in e for e in summary["errors"])
    sns_at(monkeypatch, None)
    again, _ = invoke_probe(all_down, 3.0)
    assert again["outbox_pending"] == 0
    sent += [m["NewStateReason"] for m in all_down.alarms_published()]
    assert sorted(sent) == sorted(  # each once
        [f"{name} flap {i}" for name in BROKEN for i in range(1, 10)]
        + ["status 500, expected 2xx"] * len(BROKEN)
    )


def test_publishes_go_out_in_batches_several_at_once_and_each_monitors_in_order(
    deploy, httpserver, local_aws, monkeypatch
):
    # 40 monitors with 3 saved messages each, SNS answering each request after 0.1 s: one
    # Publish at a time they would take 12 s. Round k carries each monitor's k-th message, ten to
    # a PublishBatch and the round's four requests in flight together: 12 requests, 3 round trips.
    monitors = [f"m{i}" for i in range(40)]
    httpserver.expect_request("/healthz").respond_with_json({"status": "ok"})
    deployment = deploy(monitors_yaml({name: httpserver.url_for("/healthz") for name in monitors}))
    backlog = {name: [message(i, name) for i in range(3)] for name in monitors}  # DOWN, UP, DOWN
    StateStore("autoheal-state").save(
        dict.fromkeys(monitors, MonitorState(UP, 0, 1, 1_700_000_000.0)), backlog
    )
    flight = InFlight()
    summary, took, _ = invoke_with_sns(deployment, monkeypatch, relay_late(local_aws.port, 0.1, flight), 12.0)
    assert (summary["errors"], summary["outbox_pending"]) == ([], 0)
    assert flight.total == 12 and 1 < flight.most <= min(4, PUBLISHERS)
    published = [m["NewStateReason"] for m in deployment.alarms_published()]
    for name in monitors:
        assert [r for r in published if r.startswith(f"{name} ")] == [f"{name} flap {i}" for i in range(3)]
    assert outbox() == {}
    assert took < 6.0, f"{took:.1f}s: the rounds did not overlap their requests"


def message(index: int, monitor: str = "flappy") -> dict:
    """The index-th transition of a flapping monitor: even ones DOWN (ALARM), odd ones UP."""
    down = index % 2 == 0
    return probe_alarm_message(
        monitor,
        "ALARM" if down else "OK",
        "OK" if down else "ALARM",
        f"{monitor} flap {index}" if monitor != "flappy" else f"flap {index}",
        "Autoheal",
        datetime.fromtimestamp(1_700_000_000 + 60 * index, UTC),
    )


def test_an_overflowing_outbox_keeps_the_oldest_down_and_the_newest_and_says_so(deploy, httpserver, caplog):
    httpserver.expect_request("/healthz").respond_with_json({"status": "ok"})
    deployment = deploy(monitors_yaml({"flappy": httpserver.url_for("/healthz")}))
    # 59 transitions SNS never took, the monitor DOWN; this cycle it is UP: the 60th.
    StateStore("autoheal-state").save(
        {"flappy": MonitorState(DOWN, 3, 0, 1_700_000_000.0, "flap 58")},
        {"flappy": [message(i) for i in range(59)]},
    )
    with caplog.at_level(logging.WARNING):
        summary, _ = invoke_probe(deployment, 3.0)
    assert summary["transitions"] == ["flappy: DOWN -> UP"]
    published = deployment.alarms_published()
    reasons = [m["NewStateReason"] for m in published]
    assert len(published) == OUTBOX_LIMIT
    assert reasons[:2] == ["flap 0", "flap 41"]  # the oldest DOWN, then the newest 19
    assert reasons[-2:] == ["flap 58", "1 consecutive good checks"]
    assert [m["NewStateValue"] for m in published[:2]] == ["ALARM", "OK"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("flappy: outbox over its limit of 20; dropped 40 unsent message(s)" in w for w in warnings)


def test_trim_keeps_everything_under_the_limit():
    messages = [message(i) for i in range(5)]
    assert trim(messages, 5) == (messages, 0)


def test_trim_keeps_the_newest_when_the_oldest_down_is_among_them():
    messages = [message(i) for i in (1, 3, 4, 5)]  # UP, UP, DOWN, UP
    assert trim(messages, 2) == ([message(4), message(5)], 2)


def test_trim_keeps_the_newest_when_there_is_no_down():
    messages = [message(i) for i in (1, 3, 5)]
    assert trim(messages, 2) == ([message(3), message(5)], 1)


def test_trim_refuses_a_limit_below_one():
    with pytest.raises(ValueError, match="limit: expected at least 1, got 0"):
        trim([message(0)], 0)


def test_too_little_time_to_publish_is_refused_naming_seconds_and_sends_nothing(all_down):
    with pytest.raises(NoTimeToPublish, match=r"seconds: expected at least 0\.75, got 0\.40"):
        publish_json_within("autoheal-alarms", message(0), "flappy is DOWN", 0.4)
    assert all_down.alarms_published() == []


@pytest.mark.parametrize(
    ("lambda_seconds", "publish_by"),
    [
        (75.0, 58.0),  # the deployed timeout: the tick's minute bounds it, 2 s kept to finish
        (30.0, 28.0),  # the Lambda's deadline bounds it
        (3.0, 2.4),  # a short invocation keeps a fifth of its time to finish
    ],
)
def test_the_publish_deadline_sits_inside_the_tick_and_the_lambda_deadline(lambda_seconds, publish_by):
    assert publish_deadline(100.0, 100.0 + lambda_seconds) == pytest.approx(100.0 + publish_by)


def test_a_cold_container_asks_sts_for_the_topics_account_once_for_all_publishers(
    all_down, local_aws, monkeypatch
):
    # The alarms topic's ARN needs the account, asked of STS once and kept; STS answers late, so
    # publishers starting together with nothing kept yet would each ask.
    sts = InFlight()
    slow = SocketServer(relay_late(local_aws.port, 0.2, sts))
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{slow.port}")
        clients.reset()  # a new container: no client, no account known
        summary, _ = invoke_probe(all_down, 12.0)
    finally:
        slow.stop()
    assert (summary["errors"], summary["outbox_pending"]) == ([], 0)
    assert sts.total == 1
    assert len(all_down.alarms_published()) == len(BROKEN)
