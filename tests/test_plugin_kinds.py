"""A kind of one's own is one module plus one import line: nothing else changes.

Each test writes a new kind into a temporary package, imports it (the one line), and shows that
a config using it loads and validates (a bad one is refused naming the key), that the generated
IAM policy holds its statement, that `check --live` calls its look-up, and that it runs in its
engine: a step runs, a probe check probes a loopback server, a channel receives a notice, a
gate decides.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import chalicelib.plugins  # noqa: F401 - the built-in kinds
from autoheal_ops.check import kind_lookups
from autoheal_ops.iam import policy
from chalicelib.config import ConfigError, parse_config
from chalicelib.config.kinds import CHANNELS, CHECKS, GATES, STEPS
from chalicelib.registry import Registry

SETTINGS = "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}\n"


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`plugin(registry, name, source)`: the module written to tmp_path/<name>.py and imported."""
    added: list[tuple[Registry, str, str]] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(registry: Registry, kind: str, source: str) -> ModuleType:
        module = f"own_kind_{kind}"
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        added.append((registry, kind, module))
        return importlib.import_module(module)  # the one import line

    yield write
    for registry, kind, module in added:
        registry.unregister(kind)
        sys.modules.pop(module, None)


def lookups_called(config: Any, where: str) -> list[str]:
    """Run `check --live`'s look-ups of the kinds `config` uses; the names of those at `where`."""
    called = []
    for what, lookup in kind_lookups(config):
        if what.startswith(where):
            lookup()
            called.append(what)
    return called


def statements(function: str, config: Any) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy(function, "dev", config)["Statement"]}


# -- a runbook step -------------------------------------------------------------------------

STEP = """
    from chalicelib.config.kinds import Grant
    from chalicelib.runbooks.steps import NEXT, StepKind, register

    LOOKED_UP = []


    @register
    class Note(StepKind):
        kind = "note"
        table = "arn:{partition}:dynamodb:{region_account}:table/{prefix}-notes"
        grants = (Grant("StepNotes", ("dynamodb:Query",), table),)

        @classmethod
        def read(cls, s):
            return {"text": s.string("text"), "about": s.string("about")}

        @classmethod
        def cross_check(cls, params, config, where):
            known = {m.name for m in config.monitors}
            about = params["about"]
            return [] if about in known else [f"{where}.about: no monitor named {about!r}"]

        @classmethod
        def lookups(cls, params, config, where):
            return [(f"{where}: notes table", lambda: LOOKED_UP.append(params["text"]))]

        def execute(self, ctx, params):
            ctx.incident.tell(ctx.now, f"note: {params['text']}")
            return NEXT
"""

RUNBOOK = (
    SETTINGS
    + """
monitors: [{name: web, url: 'http://127.0.0.1:9/'}]
runbooks:
  heal:
    targets: {tag: {app: web}}
    steps:
      - note: {text: %s, about: %s}
      - escalate: {}
"""
)


def test_a_step_kind_is_one_module(plugin):
    module = plugin(STEPS, "note", STEP)
    config = parse_config(RUNBOOK % ("'look at the disk'", "web"))
    assert config.runbooks["heal"].steps[0].params == {"text": "look at the disk", "about": "web"}

    with pytest.raises(ConfigError) as refused:
        parse_config(RUNBOOK % ("[not, text]", "db"))
    assert (
        "runbooks.heal.steps[0].note.text: expected a string, got a list ['not', 'text']"
        in refused.value.errors
    )
    assert "runbooks.heal.steps[0].note.about: no monitor named 'db'" in refused.value.errors

    granted = statements("on_alarm", config)["StepNotes"]
    assert granted["Action"] == ["dynamodb:Query"]
    assert (
        granted["Resource"]
        == "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/autoheal-dev-notes"
    )

    assert lookups_called(config, "runbooks.heal.steps[0].note") == [
        "runbooks.heal.steps[0].note: notes table"
    ]
    assert module.LOOKED_UP == ["look at the disk"]

    from chalicelib.runbooks.engine import RunbookEngine
    from chalicelib.runbooks.incident import ESCALATED, Incident
    from tests.engine.test_runbook_engine import FakeActions, FakeTime
    from tests.support.memory_stores import MemoryBudget, MemoryLeases

    clock = FakeTime()
    engine = RunbookEngine(
        config,
        FakeActions(),
        lambda monitors, deadline: [],
        MemoryBudget(),
        MemoryLeases(),
        [].append,
        clock.clock(),
    )
    case = Incident("web", "web is failing", clock.t, "timeout")
    engine.start(case, "heal", deadline=clock.t + 60)
    assert case.run is not None and case.run.state == ESCALATED
    assert any(line.endswith("note: look at the disk") for line in case.story)


# -- a probe check --------------------------------------------------------------------------

CHECK = """
    import asyncio
    import time
    from urllib.parse import urlsplit

    from chalicelib.config.kinds import Grant
    from chalicelib.probe.checks import CheckKind, Outcome, register

    LOOKED_UP = []


    @register
    class Banner(CheckKind):
        \"\"\"banner://host:port answers a line that starts with `banner`.\"\"\"

        kind = "banner"
        schemes = ("banner",)
        example = "banner://mail.internal:25"
        needs_port = True
        grants = (Grant("BannerReads", ("ec2:DescribeTags",), "*"),)

        @classmethod
        def read(cls, s):
            banner = s.string("banner")
            if isinstance(banner, str) and len(banner) > 20:
                s.error("expected at most 20 characters", "banner")
            return {"banner": banner}

        @classmethod
        def lookups(cls, params, config, where):
            return [(f"{where}: banner", lambda: LOOKED_UP.append(params["banner"]))]

        async def attempt(self, monitor, cycle):
            parts = urlsplit(monitor.url)
            start = time.monotonic()
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            try:
                line = (await reader.readline()).decode()
            finally:
                writer.close()
            latency = (time.monotonic() - start) * 1000
            if line.startswith(monitor.options["banner"]):
                return Outcome(ok=True, latency_ms=latency)
            return Outcome.failed(f"banner {line.strip()!r}", latency)
"""


@pytest.fixture
def banner_server() -> Iterator[int]:
    """A loopback TCP server that greets every connection with one line."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"220 mail ready\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    server.close()


def test_a_probe_check_kind_is_one_module(plugin, banner_server):
    module = plugin(CHECKS, "banner", CHECK)
    monitors = "monitors:\n  - {name: mail, kind: banner, url: '%s', banner: '%s'}\n"
    config = parse_config(SETTINGS + monitors % (f"banner://127.0.0.1:{banner_server}", "220 mail"))
    assert config.monitors[0].options == {"banner": "220 mail"}

    with pytest.raises(ConfigError) as refused:
        parse_config(SETTINGS + monitors % ("http://127.0.0.1/", "220 a banner far too long"))
    errors = refused.value.errors
    assert any(e.startswith("monitors[0].url: expected a banner URL for kind banner") for e in errors)
    assert "monitors[0].banner: expected at most 20 characters" in errors

    assert "ec2:DescribeTags" in statements("probe", config)["BannerReads"]["Action"]
    assert lookups_called(config, "monitors[0]") == ["monitors[0]: banner"]
    assert module.LOOKED_UP == ["220 mail"]

    from chalicelib.probe.engine import ProbeEngine

    [up] = ProbeEngine(workers=2).run(config.monitors, deadline=time.monotonic() + 10)
    assert up.ok, up.reason
    other = parse_config(SETTINGS + monitors % (f"banner://127.0.0.1:{banner_server}", "500"))
    [down] = ProbeEngine(workers=2).run(other.monitors, deadline=time.monotonic() + 10)
    assert not down.ok and down.reason == "banner '220 mail ready'"


# -- a notifier channel ---------------------------------------------------------------------

CHANNEL = """
    import json
    import urllib.request

    from chalicelib.config.kinds import Grant
    from chalicelib.notify.channels import Channel, register

    LOOKED_UP = []


    class Pager:
        def __init__(self, url):
            self.url = url

        def send(self, notice):
            body = json.dumps({"title": notice.title, "incident": notice.incident}).encode()
            request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as response:
                return 200 <= response.status < 300


    @register
    class PagerChannel(Channel):
        kind = "pager"
        secret = "arn:{partition}:secretsmanager:{region_account}:secret:{prefix}-pager-*"
        grants = (Grant("PagerSecret", ("secretsmanager:GetSecretValue",), secret),)

        @classmethod
        def on_by_default(cls, settings):
            return False

        @classmethod
        def read(cls, s):
            url = s.string("url")
            if isinstance(url, str) and not url.startswith(("http://", "https://")):
                s.error(f"expected an http(s) URL, got {url!r}", "url")
            return {"url": url}

        @classmethod
        def lookups(cls, params, config, where):
            return [(f"{where}: pager", lambda: LOOKED_UP.append(params["url"]))]

        @classmethod
        def build(cls, settings, policy):
            return Pager(policy.params["url"])
"""


@pytest.fixture
def pager_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/page", received
    server.shutdown()
    server.server_close()


def test_a_notifier_channel_is_one_module(plugin, pager_server):
    module = plugin(CHANNELS, "pager", CHANNEL)
    url, received = pager_server
    text = SETTINGS.replace("b}", "b, notify: {pager: %s}}")
    config = parse_config(text % f"{{url: '{url}', max_per_hour: 3}}")
    assert list(config.settings.notify) == ["email", "sms", "pager"]
    assert config.settings.notify["pager"].params == {"url": url}
    assert config.settings.notify["pager"].max_per_hour == 3

    with pytest.raises(ConfigError) as refused:
        parse_config(text % "{url: 'ftp://pager'}")
    assert refused.value.errors == ["settings.notify.pager.url: expected an http(s) URL, got 'ftp://pager'"]
    assert list(parse_config(SETTINGS).settings.notify) == ["email", "sms"]  # not on unless named

    assert "secretsmanager:GetSecretValue" in statements("on_alarm", config)["PagerSecret"]["Action"]
    assert lookups_called(config, "settings.notify.pager") == ["settings.notify.pager: pager"]
    assert [url] == module.LOOKED_UP

    from chalicelib.notify.channels import fan_out
    from chalicelib.notify.notice import Notice

    settings = parse_config(text % f"{{url: '{url}'}}").settings
    alone = dataclasses.replace(settings, notify={"pager": settings.notify["pager"]})  # no SNS here
    failed = fan_out(alone).send(Notice("opened", "web", "web is DOWN"))
    assert failed == []
    assert received == [{"title": "web is DOWN", "incident": "web"}]


# -- a deployment gate ----------------------------------------------------------------------

GATE = """
    from chalicelib.config.kinds import Grant
    from chalicelib.deployments.gates import Gate, register
    from chalicelib.deployments.machine import PASS, Verdict

    LOOKED_UP = []


    @register
    class QuietHours(Gate):
        \"\"\"No move before `after` seconds into the deployment.\"\"\"

        kind = "settle"
        grants = (Grant("Gates", ("cloudwatch:DescribeAlarmHistory",), "*"),)

        @classmethod
        def read_gate(cls, s, key):
            if key not in s.data:
                return None
            section = s.section(key)
            return section.build(dict, after=section.duration("after"))

        @classmethod
        def lookups(cls, params, config, where):
            return [(f"{where}: settle", lambda: LOOKED_UP.append(params["value"]["after"]))]

        def decide(self, ctx, value):
            if ctx.now - ctx.record.started_at < value["after"]:
                return Verdict("hold", f"settling for {value['after']:g}s", "gate:settle")
            return PASS
"""

DEPLOYMENT = (
    SETTINGS
    + """
deployments:
  web:
    listener: {load_balancer: web-alb, port: 80}
    blue: web-blue
    green: web-green
    gates: {settle: %s}
"""
)


class HealthyTargets:
    """The targets gate's reader: every target of the candidate healthy."""

    def target_health(self, arn: str) -> dict[str, str]:
        return {"i-0aaaaaaaaaaaaaaaa": "healthy"}


def test_a_deployment_gate_is_one_module(plugin):
    module = plugin(GATES, "settle", GATE)
    config = parse_config(DEPLOYMENT % "{after: 5m}")
    assert config.deployments["web"].gates.params == {"settle": {"after": 300.0}}

    with pytest.raises(ConfigError) as refused:
        parse_config(DEPLOYMENT % "{after: soon}")
    assert any(
        e.startswith("deployments.web.gates.settle.after: expected a duration") for e in refused.value.errors
    )

    assert "cloudwatch:DescribeAlarmHistory" in statements("advance", config)["Gates"]["Action"]
    assert lookups_called(config, "deployments.web.gates.settle") == ["deployments.web.gates.settle: settle"]
    assert module.LOOKED_UP == [300.0]

    from chalicelib.deployments.gates import GateChecker
    from chalicelib.deployments.model import Record

    checker = GateChecker(HealthyTargets(), dict, lambda globs: [], lambda *a: {})  # type: ignore[arg-type]
    record = Record("web", "shifting", "web-blue", "web-green", "l", "b", "g", (10, 100), "canary", 60.0)
    deployment = config.deployments["web"]
    assert checker.check(deployment, record, now=100.0, compare=True).outcome == "hold"
    assert checker.check(deployment, record, now=301.0, compare=True).outcome == "pass"


# -- what the registries and the policy generator refuse ------------------------------------


def test_a_kind_registered_twice_or_without_a_name_is_refused():
    class Twice:
        kind = "escalate"

    class Nameless:
        kind = ""

    for kind in (Twice, Nameless):
        with pytest.raises(ValueError, match="empty or registered twice"):
            STEPS.register(kind)
    assert STEPS["escalate"].__name__ == "Escalate"


def test_the_policy_generator_refuses_a_write_on_everything_and_an_unknown_resource():
    from autoheal_ops.iam import PolicyError, grant_statements
    from autoheal_ops.stage import StageNames
    from chalicelib.config.kinds import Grant

    config = parse_config(SETTINGS)
    names = StageNames("dev")
    with pytest.raises(PolicyError, match=r"only reads may be granted on '\*', not s3:GetObject"):
        grant_statements([Grant("Reads", ("s3:GetObject",), "*")], names, config)
    with pytest.raises(PolicyError, match="'the-bucket': not a resource"):
        grant_statements([Grant("Site", ("s3:PutObject",), "the-bucket")], names, config)
    with pytest.raises(PolicyError, match="expected placeholders among partition"):
        grant_statements([Grant("Site", ("s3:PutObject",), "arn:{partition}:s3:::{bucket}")], names, config)
    with pytest.raises(PolicyError, match="Sids on more than one resource: Site"):
        grants = [
            Grant("Site", ("s3:PutObject",), "status-site"),
            Grant("Site", ("sns:Publish",), "notify-topic"),
        ]
        grant_statements(grants, names, config)
