"""ProbeResult.as_dict: the shape the probe function returns and stores."""

from chalicelib.probe import ProbeResult


def test_up():
    result = ProbeResult("web", ok=True, latency_ms=41.6, reason=None, attempts=1, checked_at=1.0)
    assert result.as_dict() == {"status": "up", "latency_ms": 42, "reason": None}


def test_down_without_answer():
    result = ProbeResult("web", False, None, "connection refused", 2, 1.0)
    assert result.as_dict() == {"status": "down", "latency_ms": None, "reason": "connection refused"}


def test_skipped_is_neither_up_nor_down():
    result = ProbeResult("web", False, None, "skipped: out of time", 0, 1.0, skipped=True)
    assert result.as_dict()["status"] == "skipped"
