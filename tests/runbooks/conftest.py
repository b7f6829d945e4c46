"""The runbook tests' world: moto in server mode as AWS, real HTTP health endpoints on 127.0.0.1,
and autoheal's app loaded from a config written per test.

Everything started here stops in a finalizer. AWS is never mocked: moto is reset and the
config's resources are provisioned again before every test, and `wiring.reset()` drops the
cached clients and config whenever the environment changes.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

import pytest
import yaml
from chalice.local import LambdaContext

from chalicelib import wiring
from chalicelib.aws.clients import client, table
from chalicelib.config import load_config
from chalicelib.config.model import Config
from chalicelib.leases import Leases
from chalicelib.maintenance.runbook import RunbookMaintenance
from chalicelib.notify.format import LABELS
from chalicelib.notify.notice import Notice
from chalicelib.runbooks.actions import AwsActions
from chalicelib.runbooks.budget import BudgetStore
from chalicelib.runbooks.engine import Clock, RunbookEngine
from chalicelib.runbooks.incident import Incident
from chalicelib.runbooks.incident_store import IncidentStore
from sandbox.fleet import launch_instances
from sandbox.moto_server import MotoServer
from sandbox.provision import Provisioned, provision
from sandbox.world import load_app

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
RESTART_WEB = {"service": ["web"], "manager": ["pm2"], "user": ["ec2-user"]}
RESTART_FLEET = {"service": ["web-fleet"], "manager": ["systemd"]}
INSTANCES = [("blue-1", "blue"), ("blue-2", "blue"), ("green-1", "green")]
SAMPLE_INSTANCE = "i-0abc1234def567890"  # the InstanceId in events/alarm-metric-*.json
LABEL_KINDS = {label: kind for kind, label in LABELS.items()}


# --- health endpoints ------------------------------------------------------------------------


class HealthServer:
    """The app's health endpoints on 127.0.0.1: answers `status` (200 -> {"status": "ok"}),
    after hanging `hang` seconds when set. Change both at any time; `close()` frees hung requests."""

    def __init__(self) -> None:
        self.status = 200
        self.hang = 0.0
        self.requests = 0
        self._release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.requests += 1
                if outer.hang:
                    outer._release.wait(outer.hang)
                status = outer.status
                body = json.dumps({"status": "ok" if status == 200 else "error"}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the probe gave up on a hung answer
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset(self) -> None:
        """Healthy again; requests hung by the last test are let go."""
        self._release.set()
        self._release = threading.Event()
        self.status, self.hang, self.requests = 200, 0.0, 0

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture(scope="session")
def health_server() -> Iterator[HealthServer]:
    """One server for the session, so the config (which holds its port) stays the same from
    test to test and autoheal's cached clients need not be rebuilt for every test."""
    server = HealthServer()
    yield server
    server.close()


@pytest.fixture
def health(health_server: HealthServer) -> Iterator[HealthServer]:
    health_server.reset()
    yield health_server
    health_server.reset()


# --- AWS -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def aws(request: pytest.FixtureRequest) -> MotoServer:
    """moto in server mode for the session: the suite's shared `moto_server` (tests/conftest.py)
    when there is one, else one of our own, stopped (and the environment restored) at the end."""
    try:
        server = request.getfixturevalue("moto_server")
    except pytest.FixtureLookupError:
        server = MotoServer().start()
        request.addfinalizer(wiring.reset)
        request.addfinalizer(server.stop)  # also puts the environment back
    server.apply_env()
    return server


# --- config ----------------------------------------------------------------------------------


def base_config(health_url: str) -> dict[str, Any]:
    """The test config: monitors on the local health server, three routes, two runbooks."""
    return {
        "settings": {
            "state_table": "autoheal-state",
            "alarm_topic": "autoheal-alarms",
            "notify_topic": "autoheal-notify",
            "status_bucket": "autoheal-status",
            "metrics_namespace": "Autoheal",
            "remind_every": "10m",
            "group_wait": 0,  # told at once: these tests follow each notice (grouping has its own)
        },
        "monitors": [
            {
                "name": "web",
                "url": f"{health_url}/healthz",
                "timeout": "1s",
                "retries": 0,
                "success_threshold": 1,
                "expect": {"status": [200], "json": {"status": "ok"}},
                "runbook": "restart-web",
            },
            {"name": "api", "url": f"{health_url}/api/healthz", "timeout": "1s", "retries": 0},
        ],
        "alarms": [
            {"match": "web-*-memory-high", "runbook": "restart-web"},
            {"match": "web-5xx-*", "runbook": "restart-web"},
            {"match": "web-service-*", "runbook": "restart-fleet"},
        ],
        "runbooks": {
            "restart-web": {
                "targets": {"tag": {"app": "web", "color": "blue"}},
                "budget": {"max_runs": 3, "per": "30m"},
                "steps": [
                    {"restart": {"service": "web", "manager": "pm2", "user": "ec2-user"}},
                    {"verify": {"monitors": ["web"], "within": "1s"}},
                    {"escalate": {}},
                ],
            },
            "restart-fleet": {
                "targets": {"tag": {"app": "web"}},
                "steps": [
                    {"restart": {"service": "web-fleet", "manager": "systemd"}},
                    {"verify": {"monitors": ["web"], "within": "1s"}},
                    {"escalate": {}},
                ],
            },
        },
    }


def set_within(config: dict[str, Any], runbook: str, within: str) -> dict[str, Any]:
    for step in config["runbooks"][runbook]["steps"]:
        if "verify" in step:
            step["verify"]["within"] = within
    return config


# --- events ----------------------------------------------------------------------------------


def sns_event(name: str, message_id: Optional[str] = None, **changes: Any) -> dict[str, Any]:
    """A copy of events/<name>.json; `changes` replace keys of the alarm body (None deletes)."""
    event = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    sns = event["Records"][0]["Sns"]
    if changes:
        body = json.loads(sns["Message"])
        for key, value in changes.items():
            if value is None:
                body.pop(key, None)
            else:
                body[key] = value
        sns["Message"] = json.dumps(body)
    if message_id is not None:
        sns["MessageId"] = message_id
    return event


def body_of(event: dict[str, Any]) -> dict[str, Any]:
    return json.loads(event["Records"][0]["Sns"]["Message"])


def with_body(event: dict[str, Any], body: Any) -> dict[str, Any]:
    event = copy.deepcopy(event)
    event["Records"][0]["Sns"]["Message"] = body if isinstance(body, str) else json.dumps(body)
    return event


def probe_event(state: str, monitor: str, message_id: str, reason: str = "probe says so") -> dict[str, Any]:
    name = "alarm-probe-down" if state == "ALARM" else "alarm-probe-up"
    trigger = body_of(sns_event(name))["Trigger"]
    trigger["Dimensions"] = [{"value": monitor, "name": "Monitor"}]
    return sns_event(
        name, message_id, AlarmName=f"autoheal-probe-{monitor}", NewStateReason=reason, Trigger=trigger
    )


# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    """One test's AWS resources, instances, health server and loaded app."""

    aws: MotoServer
    health: HealthServer
    config: Config
    resources: Provisioned
    instances: dict[str, str]  # fleet name -> EC2 id
    app: ModuleType

    # ids
    @property
    def blue(self) -> list[str]:
        return sorted(i for name, i in self.instances.items() if name.startswith("blue"))

    @property
    def everyone(self) -> list[str]:
        return sorted(self.instances.values())

    def event(self, name: str, message_id: Optional[str] = None, **changes: Any) -> dict[str, Any]:
        """events/<name>.json with its sample instance id replaced by blue-1's: the metric alarm
        samples name one instance (InstanceId dimension), and a run acts on that one alone."""
        event = sns_event(name, message_id, **changes)
        sns = event["Records"][0]["Sns"]
        sns["Message"] = sns["Message"].replace(SAMPLE_INSTANCE, self.instances["blue-1"])
        return event

    # invoking the Lambda functions
    def context(self, function: str, runtime_s: float) -> LambdaContext:
        return LambdaContext(function, memory_size=256, max_runtime_ms=int(runtime_s * 1000))

    def on_alarm(self, event: Any, runtime_s: float = 60.0) -> dict[str, Any]:
        return self.app.app.handler_map["on_alarm"](event, self.context("on_alarm", runtime_s))

    def follow_up(self, runtime_s: float = 60.0) -> dict[str, Any]:
        event = {
            "version": "0",
            "id": "7bf73129-1428-4cd3-a780-95db273d1602",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2024-05-01T21:03:04Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/autoheal-dev-follow_up"],
            "detail": {},
        }
        return self.app.app.handler_map["follow_up"](event, self.context("follow_up", runtime_s))

    # what happened in AWS
    def commands(self) -> list[dict[str, Any]]:
        return client("ssm").list_commands()["Commands"]

    def items(self) -> list[dict[str, Any]]:
        return table(self.config.settings.state_table).scan(ConsistentRead=True)["Items"]

    def incident(self, name: str) -> Optional[Incident]:
        """By key ("restart-web/*"), or the latest incident named after a signal ("web")."""
        store = IncidentStore(self.config.settings.state_table)
        if found := store.get(name):
            return found
        named = [i for i in self.items() if i["pk"] == "incident" and i.get("name") == name]
        latest = max(named, key=lambda i: i["opened_at"], default=None)
        return store.get(latest["sk"]) if latest else None

    def published(self, channel: str = "email") -> list[dict[str, Any]]:
        """Messages that reached the notify topic's SQS subscriber of `channel` (e-mail or sms,
        by filter policy) since the last call.

        Each is the SNS envelope SQS receives, plus "kind" (read back from the "What:" line of
        an e-mail; None for an SMS)."""
        sqs, found = client("sqs"), []
        queue = self.resources.sms_queue_url if channel == "sms" else self.resources.notify_queue_url
        while True:
            batch = sqs.receive_message(
                QueueUrl=queue,
                MaxNumberOfMessages=10,
                VisibilityTimeout=3600,  # read once: later calls see only new messages
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                envelope = json.loads(message["Body"])
                what = re.search(r"^What:\s+(.+)$", envelope["Message"], re.MULTILINE)
                envelope["kind"] = LABEL_KINDS.get(what.group(1)) if what else None
                found.append(envelope)
        return found

    def kinds(self) -> list[str]:
        return sorted(m["kind"] for m in self.published())

    def nothing_written(self) -> None:
        """No DynamoDB item, no SNS message to people, no SSM command."""
        assert self.items() == []
        assert self.commands() == []
        assert self.published() == []

    # engine-level pieces (for tests that simulate time)
    def engine(self, clock: Clock, notices: Optional[list[Notice]] = None) -> RunbookEngine:
        send = wiring.notifier().send

        def notify(notice: Notice) -> object:
            if notices is not None:
                notices.append(notice)
            return send(notice)

        name = self.config.settings.state_table
        return RunbookEngine(
            self.config,
            AwsActions(wiring.command_polls()),
            wiring.probe_engine().run,
            BudgetStore(name),
            Leases(name),
            notify,
            clock=clock,
            maintenance=lambda: RunbookMaintenance(
                self.config, wiring.maintenance_function(clock=clock.now), clock.now
            ),
            shifter=lambda notify: wiring.build_shifter(self.config, notify=notify),
        )

    def store(self) -> IncidentStore:
        return IncidentStore(self.config.settings.state_table)


def register_instances() -> dict[str, str]:
    return launch_instances(client("ec2"), INSTANCES)


@pytest.fixture
def make_world(
    aws: MotoServer, health: HealthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., World]]:
    """make_world(config_dict=None) -> World: fresh moto, resources, instances and app."""

    def build(config: Optional[dict[str, Any]] = None) -> World:
        aws.apply_env()
        aws.reset()
        path = tmp_path / "autoheal.yaml"
        path.write_text(yaml.safe_dump(config or base_config(health.url)), encoding="utf-8")
        monkeypatch.setenv("AUTOHEAL_CONFIG", str(path))
        wanted = load_config(str(path))
        if _applied.get("endpoint") != aws.endpoint_url or _applied.get("config") != wanted:
            # Config or endpoint changed: rebuild every cached client and object. (Rebuilding
            # boto3 clients costs about a second, so an unchanged config keeps them.)
            wiring.reset()
        loaded = wiring.config()
        if loaded != wanted or client("sts").meta.endpoint_url != aws.endpoint_url:
            # Another test left its own config or clients cached: start from scratch.
            wiring.reset()
            loaded = wiring.config()
        _applied.update(endpoint=aws.endpoint_url, config=loaded)
        resources = provision(loaded)
        instances = register_instances()
        app = load_app()  # a cold start: app.py reads the config again
        return World(aws, health, loaded, resources, instances, app)

    yield build  # the caches stay warm for the next test; see build()


_applied: dict[str, Any] = {}


@pytest.fixture(scope="package", autouse=True)
def forget_wiring() -> Iterator[None]:
    """Leave no client or config of ours cached for the folders that run after this one."""
    yield
    _applied.clear()
    wiring.reset()


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


# --- simulated time --------------------------------------------------------------------------


class FakeClock:
    """Wall time that moves only when told (or when the engine sleeps).

    `monotonic` is the real monotonic clock plus the simulated advance, so deadlines handed to
    the real probe engine (which reads time.monotonic) always leave it its full timeout."""

    def __init__(self, start: Optional[float] = None) -> None:
        self.start = time.time() if start is None else start
        self.advanced = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.start + self.advanced

    def monotonic(self) -> float:
        return time.monotonic() + self.advanced

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.advanced += seconds

    def set(self, offset: float) -> None:
        """Move to start + offset (never backwards)."""
        with self._lock:
            self.advanced = max(self.advanced, offset)

    @property
    def clock(self) -> Clock:
        return Clock(now=self.now, monotonic=self.monotonic, sleep=self.sleep)


def recover_after(health: HealthServer, seconds: float) -> threading.Thread:
    """The app answers 200 again `seconds` from now (as a restart would make it); join it."""

    def recover() -> None:
        time.sleep(seconds)
        health.status = 200

    healer = threading.Thread(target=recover)
    healer.start()
    return healer
