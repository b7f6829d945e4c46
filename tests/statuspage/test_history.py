"""Daily rollups: honest minutes, compact storage, uptime without unknown or maintenance."""

from __future__ import annotations

import json

from chalicelib.statuspage import history as h

DAY0 = 1_750_032_000.0  # 2025-06-16T00:00:00Z


def test_the_worst_result_of_a_minute_wins_and_the_open_minute_is_kept():
    acc = h.Accumulator()
    acc.record("web", DAY0 + 5, h.UP, 100.0)
    acc.record("web", DAY0 + 35, h.DOWN, None, "timeout")
    acc.record("web", DAY0 + 50, h.UP, 120.0)
    acc.record("web", DAY0 + 65, h.UP, 90.0)  # the next minute, still open at DAY0 + 70
    rollup = acc.drain(DAY0 + 70)["2025-06-16"]["web"]
    assert (rollup.up, rollup.down, rollup.reasons) == (0, 1, {"timeout": 1})
    assert sum(rollup.latency) == 2  # the down sample carries no latency
    assert acc.pending()
    later = acc.drain(DAY0 + 200)["2025-06-16"]["web"]
    assert (later.up, later.down) == (1, 0)
    assert not acc.pending()


def test_minutes_the_probe_did_not_run_are_unknown_and_left_out_of_uptime():
    day = h.DayRollup("2025-06-16")
    for minute in range(600):
        day.add_minute(h.UP, minute // 60)
    for minute in range(600, 660):
        day.add_minute(h.MAINTENANCE, minute // 60)
    for minute in range(660, 690):
        day.add_minute(h.DOWN, minute // 60, "status 503")
    assert day.unknown() == 1440 - 690
    assert day.uptime() == round(100 * 600 / 630, 3)
    assert h.uptime_over([day, h.DayRollup("2025-06-17")]) == day.uptime()
    assert h.DayRollup("x").uptime() is None  # nothing measured is not 100%


def test_percentiles_come_from_the_histogram():
    day = h.DayRollup("2025-06-16")
    for ms in [40] * 90 + [900] * 10:
        day.add_latency(ms)
    assert day.p50() == 50 and day.p95() == 1000
    day.add_latency(99_999)
    assert day.percentile(1.0) == h.OVERFLOW_MS


def test_a_day_round_trips_through_its_stored_shape_and_stays_small():
    day = h.DayRollup("2025-06-16")
    for minute in range(1440):
        day.add_minute(h.DOWN if minute % 97 == 0 else h.UP, minute // 60, "timeout")
        day.add_latency(50 + minute % 400)
    stored = json.loads(json.dumps(day.to_dict()))
    assert h.DayRollup.from_dict("2025-06-16", stored) == day
    assert len(json.dumps(stored)) < 700  # 90 days x a few monitors stays far below 400 KB items


def test_merging_adds_every_count():
    history: dict = {}
    acc = h.Accumulator()
    for minute in range(3):
        acc.record("api", DAY0 + minute * 60, h.UP, 10.0)
    h.merge_into(history, acc.drain(DAY0 + 3600))
    for minute in range(3, 5):
        acc.record("api", DAY0 + minute * 60, h.DOWN, None, "refused")
    h.merge_into(history, acc.drain(DAY0 + 3600))
    rollup = history["2025-06-16"]["api"]
    assert (rollup.up, rollup.down, rollup.hours[0]) == (3, 2, [3, 2, 0])


def test_days_and_elapsed_minutes():
    assert h.last_days(DAY0 + 10, 3) == ["2025-06-14", "2025-06-15", "2025-06-16"]
    assert h.elapsed_minutes("2025-06-16", DAY0 + 3600 + 59) == 60
    assert h.elapsed_minutes("2025-06-15", DAY0) == 1440
