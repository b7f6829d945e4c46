"""The probe's outbox goes out as PublishBatch requests: what SNS refuses stays, nothing else does.

SNS is pointed at a socket server on 127.0.0.1 that answers PublishBatch itself (a partial
failure, or a refusal of the whole request) and relays every other request to moto.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import parse_qs

import pytest

from chalicelib.aws.topics import BATCH_BYTES, BATCH_ENTRIES, batches
from chalicelib.monitoring.outbox_flush import Entry, split
from tests.handlers.test_probe_outbox import BROKEN, all_down, invoke_probe, invoke_with_sns, outbox, sns_at  # noqa: F401
from tests.support.servers import answer_http, read_body, read_request, relay

NS = 'xmlns="http://sns.amazonaws.com/doc/2010-03-31/"'


def entries_of(body: bytes) -> dict[str, str]:
    """A PublishBatch request's entries: Id -> the monitor its alarm message names."""
    form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
    found = {}
    for key, value in form.items():
        if key.startswith("PublishBatchRequestEntries.member.") and key.endswith(".Id"):
            message = json.loads(form[key[: -len("Id")] + "Message"])
            found[value] = message["Trigger"]["Dimensions"][0]["value"]
    return found


def sns_answering(upstream_port: int, batch_answer):
    """SNS whose PublishBatch `batch_answer(entries) -> (status, xml)` answers; the rest is moto's."""

    def serve(conn: socket.socket) -> None:
        conn.settimeout(10)
        while request := read_request(conn):
            method, path, headers, body = read_body(conn, request)
            if b"Action=PublishBatch" in body:
                answer_http(conn, *batch_answer(entries_of(body)))
            else:
                relay(conn, upstream_port, method, path, headers, body)

    return serve


def all_but(refused_monitor: str):
    def answer(entries: dict[str, str]) -> tuple[int, bytes]:
        good = "".join(
            f"<member><Id>{i}</Id><MessageId>id-{i}</MessageId></member>"
            for i, m in entries.items()
            if m != refused_monitor
        )
        bad = "".join(
            f"<member><Id>{i}</Id><Code>InternalError</Code><Message>try later</Message>"
            "<SenderFault>false</SenderFault></member>"
            for i, m in entries.items()
            if m == refused_monitor
        )
        return 200, (
            f"<PublishBatchResponse {NS}><PublishBatchResult><Successful>{good}</Successful>"
            f"<Failed>{bad}</Failed></PublishBatchResult>"
            "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishBatchResponse>"
        ).encode()

    return answer


def refused_whole(entries: dict[str, str]) -> tuple[int, bytes]:
    return 400, (
        f"<ErrorResponse {NS}><Error><Type>Sender</Type><Code>BatchRequestTooLong</Code>"
        "<Message>The batch request is too long</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    ).encode()


def test_a_message_sns_fails_in_a_batch_stays_in_the_outbox_and_the_rest_leave_it(
    all_down,  # noqa: F811
    local_aws,
    monkeypatch,
):
    summary, _, _ = invoke_with_sns(all_down, monkeypatch, sns_answering(local_aws.port, all_but("m3")), 12.0)
    assert {name: [m["NewStateValue"] for m in messages] for name, messages in outbox().items()} == {
        "m3": ["ALARM"]
    }
    assert summary["outbox_pending"] == 1
    assert any(
        "publishing m3 ALARM failed; kept in the outbox" in e and "try later" in e for e in summary["errors"]
    )

    sns_at(monkeypatch, None)  # SNS takes it at the next tick
    again, _ = invoke_probe(all_down, 12.0)
    assert (again["errors"], again["outbox_pending"]) == ([], 0)
    assert [m["AlarmName"] for m in all_down.alarms_published()] == ["autoheal-probe-m3"]


def test_a_batch_refused_as_a_whole_is_sent_message_by_message(all_down, local_aws, monkeypatch):  # noqa: F811
    summary, _, _ = invoke_with_sns(all_down, monkeypatch, sns_answering(local_aws.port, refused_whole), 12.0)
    assert (summary["errors"], summary["outbox_pending"]) == ([], 0)
    assert sorted(m["AlarmName"] for m in all_down.alarms_published()) == sorted(
        f"autoheal-probe-{name}" for name in BROKEN
    )
    assert outbox() == {}


def test_a_round_is_split_at_ten_messages_and_at_the_requests_size():
    assert [len(r) for r in batches([100] * 25)] == [BATCH_ENTRIES, BATCH_ENTRIES, 5]
    big = BATCH_BYTES // 2 - 10
    assert [list(r) for r in batches([big, big, big, 10])] == [[0, 1], [2, 3]]
    assert batches([]) == []


def test_split_keeps_the_rounds_entries_in_order():
    entries = [Entry(f"m{i}", 0, {"n": i}) for i in range(23)]
    requests = split(entries)
    assert [len(r) for r in requests] == [10, 10, 3]
    assert [e for r in requests for e in r] == entries


@pytest.mark.parametrize("count", [0, BATCH_ENTRIES + 1])
def test_a_batch_of_no_message_or_of_too_many_is_refused_before_sending(count):
    from chalicelib.aws.topics import publish_batch_within

    with pytest.raises(ValueError, match=rf"messages: expected 1 to {BATCH_ENTRIES}, got {count}"):
        publish_batch_within("autoheal-alarms", [({"m": i}, None) for i in range(count)], 10.0)
