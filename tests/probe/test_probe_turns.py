"""Turns: the start order within a run, bent towards an endpoint that seems to hang."""

from __future__ import annotations

from chalicelib.probe.turns import Turns, endpoint_of, overtaken_for

URLS = ["http://a:1/x", "http://b:1/", "http://b:1/", "http://b:1/", "http://a:1/y", "http://c:1/"]


def started(turns: Turns, count: int, now: float = 0.0) -> list[int]:
    return [turns.take(now) for _ in range(count)]


def with_a_suspect(**options) -> Turns:
    """a/x (0) in flight, overtaken by both b (1, 2) and waiting a fifth of its timeout."""
    turns = Turns(range(6), URLS, [1.0] * 6, overtaken=2, **options)
    assert started(turns, 3) == [0, 1, 2]
    turns.done(1, answered=True, now=0.0)
    turns.done(2, answered=True, now=0.0)
    turns.sweep(now=0.2)  # a is suspect: its y (4) is pulled forward
    return turns


def test_without_a_suspect_the_planned_order_holds():
    turns = Turns([5, 4, 3, 2, 1, 0], URLS, [1.0] * 6, overtaken=2)
    assert started(turns, 6) == [5, 4, 3, 2, 1, 0]
    assert turns.take(0.0) is None
    assert not turns.pending()


def test_waiting_long_on_a_starved_cpu_without_being_overtaken_is_no_suspicion():
    turns = Turns(range(6), URLS, [1.0] * 6, overtaken=2)
    assert started(turns, 3) == [0, 1, 2]
    turns.done(0, answered=True, now=0.0)  # the oldest answered first: in order, however late
    turns.sweep(now=0.9)
    assert turns.take(0.9) == 3  # a's other monitor (4) keeps its turn


def test_overtaken_but_not_yet_long_is_no_suspicion():
    turns = Turns(range(6), URLS, [1.0] * 6, overtaken=2)
    started(turns, 3)
    turns.done(1, answered=True, now=0.0)
    turns.done(2, answered=True, now=0.0)
    turns.sweep(now=0.05)  # half of a tenth of its timeout
    assert turns.take(0.05) == 3


def test_an_answer_looks_at_the_waiting_attempts_at_most_once_per_sweep_interval():
    urls = ["http://a/1", "http://b/", "http://b/", "http://c/", "http://d/", "http://a/2"]
    turns = Turns(range(6), urls, [1.0] * 6, overtaken=2)
    assert started(turns, 3) == [0, 1, 2]
    turns.done(1, answered=True, now=0.19)  # looks: a/1 is overtaken once only
    turns.done(2, answered=True, now=0.2)  # now twice, but the last look was under SWEEP ago
    assert turns.take(0.2) == 3
    turns.done(3, answered=True, now=0.25)  # looks again: a is suspect
    assert turns.take(0.25) == 5  # a/2 before d


def test_a_suspect_endpoint_goes_next_once_and_nothing_starts_twice():
    turns = with_a_suspect()
    turns.sweep(now=0.3)
    assert [turns.take(0.3) for _ in range(4)] == [4, 3, 5, None]


def test_endpoints_group_by_scheme_host_and_port():
    assert endpoint_of("https://Web.example:8443/health?x=1") == "https://web.example:8443"
    assert endpoint_of("http://web.example?x") == endpoint_of("http://web.example/")
    assert endpoint_of("http://web.example:81/") != endpoint_of("http://web.example/")


def test_a_quarter_of_the_workers_and_at_least_eight():
    assert overtaken_for(256) == 64
    assert overtaken_for(2) == 8


def test_an_endpoint_whose_suspect_attempt_answers_was_slow_and_goes_back_to_its_turns():
    turns = with_a_suspect()
    turns.done(0, answered=True, now=0.3)  # a/x answered after all
    assert [turns.take(0.3) for _ in range(4)] == [3, 4, 5, None]


def test_an_endpoint_whose_suspect_attempt_times_out_keeps_its_monitors_first():
    turns = with_a_suspect()
    turns.done(0, answered=False, now=1.0)
    assert [turns.take(1.0) for _ in range(3)] == [4, 3, 5]


def test_a_worker_whose_fresh_monitor_answered_stays_on_its_endpoint():
    turns = Turns(range(6), URLS, [1.0] * 6, overtaken=2, fresh=range(6))
    assert started(turns, 2) == [0, 1]
    turns.done(0, answered=True, now=0.0)
    assert turns.take(0.01, after=0) == 4  # a/y reuses a/x's connection
    turns.done(1, answered=True, now=0.0)
    assert [turns.take(0.02, after=1) for _ in range(3)] == [2, 3, 5]


def test_no_answer_or_a_known_monitor_keeps_the_planned_order():
    unanswered = Turns(range(6), URLS, [1.0] * 6, overtaken=2, fresh=range(6))
    started(unanswered, 2)
    unanswered.done(0, answered=False, now=0.0)  # its connection failed or timed out: nothing to reuse
    assert unanswered.take(0.01, after=0) == 2
    known = Turns(range(6), URLS, [1.0] * 6, overtaken=2, fresh=[])
    started(known, 2)
    known.done(0, answered=True, now=0.0)  # a planned order from past runs is kept
    assert known.take(0.01, after=0) == 2


def test_a_suspect_endpoint_goes_before_a_workers_own_endpoint():
    turns = with_a_suspect(fresh=range(6))
    assert turns.take(0.2, after=2) == 4  # not b's next (3)
    assert turns.take(0.2, after=2) == 3
