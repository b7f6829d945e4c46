"""The sub-minute schedule: slots that a long cycle overran are skipped, not run back to back."""

from __future__ import annotations

import pytest

from chalicelib.monitoring.probe_run import next_slot


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (5.0, 10.0),  # on time: the next slot
        (10.0, 10.0),  # ended at the next slot's start: that slot
        (25.0, 30.0),  # overran slots 10 and 20: both skipped
        (30.0, 30.0),
    ],
)
def test_next_slot(now, expected):
    assert next_slot(0.0, 10.0, now) == expected
