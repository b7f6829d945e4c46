"""Turns: the start order within a run, bent towards an endpoint that seems to hang."""

from __future__ import annotations

from chalicelib.probe.turns import Turns, endpoint_of, overtaken_for

URLS = ["http://a:1/x", "http://b:1/", "http://b:1/", "http://b:1/", "http://a:1/y", "http://c:1/"]


def started(turns: Turns, count: int, now: float = 0.0) -> list[int]:
    return [turns.take(now) for _ in range(count)]


def test_without_a_suspect_the_planned_order_holds():
    turns = Turns([5, 4, 3, 2, 1, 0], URLS, [1.0] * 6, overtaken=2)
    assert started(turns, 6) == [5, 4, 3, 2, 1, 0]
    assert turns.take(0.0) is None
    assert not turns.pending()


def test_waiting_long_on_a_starved_cpu_without_being_overtaken_is_no_suspicion():
    turns = Turns(range(6), URLS, [1.0] * 6, overtaken=2)
    assert started(turns, 3) == [0, 1, 2]
    turns.done(0)  # the oldest answered first: in order, however late
    turns.sweep(now=0.9)
    assert turns.take(0.9) == 3  # a's other monitor (4) keeps its turn


def test_overtaken_but_not_yet_long_is_no_suspicion():
    turns = Turns(range(6), URLS, [1.0] * 6, overtaken=2)
    started(turns, 3)
    turns.done(1)
    turns.done(2)
    turns.sweep(now=0.05)  # half of a tenth of its timeout
    assert turns.take(0.05) == 3


def test_a_suspect_endpoint_goes_next_once_and_nothing_starts_twice():
    turns = Turns(range(6), URLS, [1.0] * 6, overtaken=2)
    started(turns, 3)
    turns.done(1)
    turns.done(2)
    turns.sweep(now=0.2)
    turns.sweep(now=0.3)
    assert [turns.take(0.3) for _ in range(4)] == [4, 3, 5, None]


def test_endpoints_group_by_scheme_host_and_port():
    assert endpoint_of("https://Web.example:8443/health?x=1") == "https://web.example:8443"
    assert endpoint_of("http://web.example?x") == endpoint_of("http://web.example/")
    assert endpoint_of("http://web.example:81/") != endpoint_of("http://web.example/")


def test_a_quarter_of_the_workers_and_at_least_eight():
    assert overtaken_for(256) == 64
    assert overtaken_for(2) == 8
