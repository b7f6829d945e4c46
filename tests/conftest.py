"""Shared fixtures: the local AWS (moto in server mode) and autoheal deployed into it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.aws.clients import client
from sandbox.moto_server import MotoServer
from sandbox.provision import Provisioned, provision
from sandbox.runtime import drain_envelopes
from sandbox.world import load_app

# Fixtures that start moto in server mode, local servers, a fleet or a browser: a test that uses
# one of them (directly or through another fixture) is marked `world` and left out of `make check`.
WORLD_FIXTURES = frozenset(
    {"moto_server", "local_aws", "deploy", "aws", "world", "make_world", "health", "health_server"}
    | {"fleet", "local_alb", "aws_client", "browser", "httpserver"}
)
# Files that start processes or servers themselves (no fixture says so).
WORLD_FILES = (
    "tests/sandbox/",
    "tests/deploy/",
    "tests/test_packaging.py",
    "tests/statuspage/test_browser.py",
)
# The slowest tests, measured with --durations=30 (each over about 8 s on 2 cores).
SLOW = (
    "tests/sandbox/test_sandbox_demo.py::",
    "tests/sandbox/test_sandbox_world_front_door.py::",
    "tests/sandbox/test_sandbox_command.py::test_sigterm_stops_the_world_and_its_local_aws",
    "tests/sandbox/test_sandbox_front_door.py::test_weighted_shares_hold_over_400_requests",
    "tests/runbooks/test_interleavings.py::",
    "tests/runbooks/test_grouping_storms.py::",
    "tests/runbooks/test_runbook_continuation.py::test_no_reminder_is_written_over_a_run_in_flight",
    "tests/runbooks/test_runbook_continuation.py::test_follow_up_never_resumes_a_run_whose_target",
    "tests/runbooks/test_on_alarm_hostile.py::test_hostile_text_never_reaches_the_command",
    "tests/runbooks/test_notify_policy_storms.py::test_an_outage_autoheal_cannot_heal_reaches_sms",
    "tests/runbooks/test_runbook_lease.py::test_two_alarms_on_one_target_restart_it_once",
    "tests/statuspage/test_browser.py::test_time_from_health_endpoints_answering_to_the_user",
    "tests/test_packaging.py::test_make_package_writes_a_merged_template",
    "tests/statuspage/test_history_notes.py::test_a_thousand_monitor_blind_window_is_one_line",
)


# The files that take longest (seconds on one worker, summed from --durations=0), longest first.
# `make test` hands out one file at a time to whichever worker is free (--dist loadfile, without
# xdist's reordering by test count): started first, they never keep one worker busy at the end.
LONGEST_FIRST = (
    "tests/sandbox/test_sandbox_valkey_promote.py",  # ~100 s: Sentinel's own failover timing
    "tests/sandbox/test_sandbox_demo.py",  # ~95 s
    "tests/vantage/test_vantage_world.py",
    "tests/sandbox/test_sandbox_restart_diagnosis.py",
    "tests/runbooks/test_runbook_continuation.py",
    "tests/runbooks/test_grouping_storms.py",
    "tests/statuspage/test_browser.py",
    "tests/docs/test_operating_doc_runs.py",
    "tests/sandbox/test_sandbox_ssm_agent.py",
    "tests/statuspage/test_history_notes.py",
    "tests/fanout/test_fanout_world.py",
    "tests/maintenance/test_maintenance_world.py",
    "tests/deploy/test_operator_command.py",
    "tests/deploy/test_policies_cover_calls.py",
    "tests/alarms/test_alarm_targeting.py",
    "tests/deployments/test_on_alarm_rollback.py",
)


def longest_first(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=longest_first)  # stable: every file keeps its own order
    for item in items:
        node = item.nodeid
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (
            WORLD_FIXTURES & set(getattr(item, "fixturenames", ()))
            or node.startswith(WORLD_FILES)
            or "dynamodb" in params.values()  # contract tests run on fakes and on the world
        ):
            item.add_marker(pytest.mark.world)
        if node.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


SETTINGS = """settings:
  state_table: autoheal-state
  alarm_topic: autoheal-alarms
  notify_topic: autoheal-notify
  status_bucket: autoheal-status
"""


@pytest.fixture(scope="session", autouse=True)
def local_waits() -> Iterator[None]:
    """Pauses that wait on a condition (between verify probes, between polls of a command) are
    short here: the same conditions, met sooner. Production keeps its own (see wiring)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(wiring.LOCAL_WAITS, "1")
        yield


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        server.apply_env()
        yield server


@pytest.fixture
def local_aws(moto_server: MotoServer) -> Iterator[MotoServer]:
    """A clean local AWS for each test, with autoheal's cached clients pointed at it."""
    moto_server.apply_env()
    moto_server.reset()
    wiring.reset()
    yield moto_server
    wiring.reset()


class Deployment:
    def __init__(self, app: ModuleType, resources: Provisioned, config_path: Path) -> None:
        self.app = app
        self.resources = resources
        self.config_path = config_path

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Every SNS envelope waiting on a subscribed queue (and remove them)."""
        return drain_envelopes(client("sqs"), queue_url)

    def alarms_published(self) -> list[dict[str, Any]]:
        return [json.loads(envelope["Message"]) for envelope in self.drain(self.resources.alarm_queue_url)]


@pytest.fixture
def deploy(
    local_aws: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], Deployment]:
    """deploy(yaml_body) -> the app loaded with SETTINGS + yaml_body, its resources provisioned."""

    def _deploy(body: str) -> Deployment:
        path = tmp_path / "autoheal.yaml"
        path.write_text(SETTINGS + body)
        monkeypatch.setenv("AUTOHEAL_CONFIG", str(path))
        wiring.reset()
        resources = provision(wiring.config())
        return Deployment(load_app(), resources, path)

    return _deploy
