"""Maintenance windows in their own time zone, across both daylight-saving changes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from chalicelib.config.model import MaintenanceWindow
from chalicelib.maintenance import windows

BERLIN = ZoneInfo("Europe/Berlin")


def utc(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def nightly(hour_minute: str, duration: float = 7200) -> MaintenanceWindow:
    minute, hour = hour_minute.split(":")[1], hour_minute.split(":")[0]
    return MaintenanceWindow(duration, "nightly", "Europe/Berlin", cron=f"{int(minute)} {int(hour)} * * *")


def starts(window: MaintenanceWindow, begin: str, end: str) -> list[str]:
    return [windows.iso(s) for s, _ in windows.occurrences(window, utc(begin), utc(end))]


def test_cron_keeps_local_time_across_spring_forward():
    # 2025-03-30: 02:00 CET becomes 03:00 CEST in Berlin.
    assert starts(nightly("01:00"), "2025-03-29T00:00Z", "2025-03-31T12:00Z") == [
        "2025-03-29T00:00:00Z",  # 01:00 CET
        "2025-03-30T00:00:00Z",  # 01:00 CET, just before the change
        "2025-03-30T23:00:00Z",  # 01:00 CEST on the 31st
    ]


def test_a_start_in_the_skipped_hour_runs_at_the_end_of_the_gap_once():
    got = starts(nightly("02:30"), "2025-03-29T00:00Z", "2025-03-31T12:00Z")
    assert got == ["2025-03-29T01:30:00Z", "2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z"]
    # 2025-03-30T01:00Z is 03:00 CEST: the first moment after the gap.


def test_a_start_in_the_repeated_hour_runs_once_on_fall_back():
    # 2025-10-26: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    got = starts(nightly("02:30"), "2025-10-25T00:00Z", "2025-10-27T12:00Z")
    assert got == ["2025-10-25T00:30:00Z", "2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"]


def test_duration_is_elapsed_time_across_a_change():
    window = nightly("01:00", duration=3 * 3600)  # 01:00 to 04:00 local on an ordinary night
    (start, end), *_ = windows.occurrences(window, utc("2025-10-26T00:00Z"), utc("2025-10-26T01:00Z"))
    assert end - start == 3 * 3600
    # On the fall-back night three real hours end at 03:00 local time, not 04:00.
    assert datetime.fromtimestamp(end, BERLIN).strftime("%H:%M") == "03:00"


def test_a_one_off_start_without_offset_is_local_to_its_zone():
    window = MaintenanceWindow(
        1800, "upgrade", "Europe/Berlin", start=datetime(2025, 7, 1, 22, 0, tzinfo=BERLIN)
    )
    assert starts(window, "2025-07-01T00:00Z", "2025-07-02T00:00Z") == ["2025-07-01T20:00:00Z"]
    assert windows.active([window], utc("2025-07-01T20:10Z"))[0].message == "upgrade"
    assert windows.active([window], utc("2025-07-01T20:30Z")) == []


def test_windows_are_announced_before_they_start():
    window = MaintenanceWindow(3600, "weekly", "UTC", cron="0 3 * * SUN", components=("API",))
    upcoming = windows.upcoming([window], utc("2025-06-13T12:00Z"), horizon=7 * 86400)
    assert [windows.iso(o.start) for o in upcoming] == ["2025-06-15T03:00:00Z"]
    assert upcoming[0].covers("API") and not upcoming[0].covers("Website")
    active = windows.active([window], utc("2025-06-15T03:59:59Z"))
    assert len(active) == 1 and not windows.active([window], utc("2025-06-15T04:00Z"))
