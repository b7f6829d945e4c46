"""Only the home region writes the per-component aggregates: another vantage point's view is a
vote, and its dashboard needs only its own health (cycle, skipped, heartbeat)."""

from __future__ import annotations

from tests.handlers.test_probe_function import emf_documents
from tests.vantage.test_vantage_world import vantage  # noqa: F401 - a fixture


def components_and_heartbeats(output: str) -> tuple[int, int]:
    documents = emf_documents(output)
    components = sum(1 for d in documents if "MonitorsUp" in d)
    return components, sum(1 for d in documents if d.get("ProbeHeartbeat") == [1.0])


def test_a_vantage_point_other_than_home_writes_only_its_own_health(vantage, capsys) -> None:  # noqa: F811
    v = vantage()
    capsys.readouterr()
    v.tick("eu-west-1")
    assert components_and_heartbeats(capsys.readouterr().out) == (0, 1)
    v.tick("us-east-1")  # the home region
    components, heartbeats = components_and_heartbeats(capsys.readouterr().out)
    assert components >= 1 and heartbeats == 1
