"""The hand-written HTTP/1.1 response reader: framing, 1xx, reuse, and what it refuses."""

from __future__ import annotations

import pytest

from chalicelib.probe.checks.errors import ProbeFailure
from chalicelib.probe.http1 import InvalidResponse, NoResponse, ResponseParser, request_bytes


def read(data: bytes, cap: int = 1 << 20, head: bool = False, eof: bool = True):
    """The response parsed from `data` fed whole, and again fed a byte at a time: both must agree."""
    answers = []
    for pieces in ([data], [data[i : i + 1] for i in range(len(data))]):
        parser = ResponseParser(cap, head)
        answer = None
        for piece in pieces:
            answer = parser.feed(piece)
            if answer is not None:
                break
        if answer is None:
            assert eof, "the response was not complete without the close"
            answer = parser.closed()
        answers.append(answer)
    assert answers[0] == answers[1]
    return answers[0]


def test_content_length_body_and_reuse():
    answer = read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", eof=False)
    assert (answer.status, answer.body, answer.truncated, answer.reusable) == (200, b"hello", False, True)


def test_chunked_body_with_extensions_and_trailers():
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
    )
    answer = read(data, eof=False)
    assert (answer.body, answer.reusable) == (b"abcde", True)


def test_informational_answers_are_skipped():
    answer = read(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\nLink: x\r\n\r\nHTTP/1.1 204 No\r\n\r\n"
    )
    assert answer.status == 204 and answer.body == b""


def test_close_delimited_body_is_read_to_the_end_and_never_reused():
    answer = read(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
    assert (answer.body, answer.reusable) == (b"until the end", False)


@pytest.mark.parametrize(
    "head",
    [b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\n", b"HTTP/1.0 200 OK\r\n"],
)
def test_connection_close_or_http10_is_not_reused(head):
    assert not read(head + b"Content-Length: 0\r\n\r\n").reusable


def test_bodies_past_the_cap_are_cut_and_the_connection_dropped():
    for data in (
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + b"x" * 100 + b"\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 100,
    ):
        answer = read(data, cap=10)
        assert (answer.body, answer.truncated, answer.reusable) == (b"x" * 10, True, False)


def test_head_answers_carry_no_body_whatever_the_length_says():
    answer = read(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", head=True, eof=False)
    assert answer.body == b"" and answer.reusable


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 20x OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_malformed_answers_are_invalid_responses(data):
    with pytest.raises(InvalidResponse, match="http: invalid response"):
        read(data)


def test_nothing_at_all_is_no_response_and_a_cut_body_is_a_closed_connection():
    with pytest.raises(NoResponse):
        read(b"")
    with pytest.raises(ConnectionError) as caught:
        read(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")
    assert not isinstance(caught.value, NoResponse)


def test_request_bytes_refuse_a_header_that_would_split_the_request():
    assert request_bytes("GET", "/x?a=1", (("host", "h:1"),)) == b"GET /x?a=1 HTTP/1.1\r\nhost: h:1\r\n\r\n"
    with pytest.raises(ProbeFailure, match="invalid header 'x-a'"):
        request_bytes("GET", "/", (("x-a", "1\r\nInjected: yes"),))
    with pytest.raises(ProbeFailure, match="invalid header"):
        request_bytes("GET", "/", (("bad name", "1"),))


def test_an_answer_not_yet_complete_waits_for_more_bytes():
    parser = ResponseParser(1 << 20)
    assert parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok") is None
    assert parser.feed(b"") is None
    assert parser.feed(b"!!").body == b"ok!!"


def test_bytes_past_the_answer_make_the_connection_not_reusable():
    answer = ResponseParser(1 << 20).feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK")
    assert answer.body == b"ok" and not answer.reusable


def test_a_head_without_an_end_past_the_line_limit_is_invalid():
    parser = ResponseParser(1 << 20)
    with pytest.raises(InvalidResponse):
        parser.feed(b"HTTP/1.1 200 OK\r\nX: " + b"a" * (70 * 1024))
