"""Load and validate the autoheal YAML: every error at once, by key path.

>>> config = load_config("autoheal.yaml")           # doctest: +SKIP
>>> config.monitor("web").timeout                   # doctest: +SKIP
5.0
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping
from urllib.parse import urlsplit

import yaml

from chalicelib.config.errors import ConfigError
from chalicelib.config.fields import Section
from chalicelib.config.model import (
    MONITOR_KINDS,
    SERVICE_MANAGERS,
    AlarmRoute,
    Budget,
    Compare,
    Config,
    Deployment,
    Expect,
    Gates,
    Hooks,
    Listener,
    Monitor,
    Runbook,
    Settings,
    Step,
    Targets,
)
from chalicelib.deployments.strategies import STRATEGIES, plan_problem

ENV_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# The restart document's parameters: the same allowedPattern is in resources/ssm-restart.yaml.
SERVICE_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
SSM_DOCUMENT = re.compile(r"^[A-Za-z0-9_.:/-]{3,128}$")
URL_SCHEMES = {"http": ("http", "https"), "websocket": ("ws", "wss"), "tcp": ("tcp",)}
STEP_ACTIONS = ("restart", "verify", "reboot", "replace", "run", "maintenance", "escalate")


def load_config(path: str) -> Config:
    """Read `path` and return the validated Config, or raise ConfigError listing every error."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    return parse_config(text, source=path)


def parse_config(text: str, source: str = "config", environ: Mapping[str, str] | None = None) -> Config:
    text, missing = expand_environment(text, os.environ if environ is None else environ)
    if missing:
        raise ConfigError(
            [f"{source}: ${{{name}}} is used but not set in the environment" for name in missing]
        )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: not valid YAML: {exc}"]) from None
    errors: list[str] = []
    config = build_config(data, errors)
    if errors:
        raise ConfigError(errors)
    return config


def expand_environment(text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Fill in ${NAME} from the environment (per-stage hosts, the local world's ports)."""
    missing = sorted({name for name in ENV_REFERENCE.findall(text) if name not in environ})
    return ENV_REFERENCE.sub(lambda m: environ.get(m.group(1), m.group(0)), text), missing


def build_config(data: Any, errors: list[str]) -> Config:
    root = Section(data, "", errors)
    settings = read_settings(root.section("settings", required=True))
    monitors = tuple(read_monitor(Section(item, path, errors)) for path, item in root.items("monitors"))
    alarms = tuple(read_alarm(Section(item, path, errors)) for path, item in root.items("alarms"))
    runbooks_section = root.section("runbooks")
    runbooks = {
        str(name): read_runbook(runbooks_section.section(str(name)), str(name))
        for name in list(runbooks_section.data)
    }
    deployments_section = root.section("deployments")
    deployments = {
        str(name): read_deployment(deployments_section.section(str(name)), str(name))
        for name in list(deployments_section.data)
    }
    root.finish()
    config = Config(settings, monitors, alarms, runbooks, deployments)
    errors.extend(cross_check(config))
    return config


def read_settings(s: Section) -> Settings:
    return s.build(
        Settings,
        state_table=s.string("state_table"),
        alarm_topic=s.string("alarm_topic"),
        notify_topic=s.string("notify_topic"),
        status_bucket=s.string("status_bucket"),
        metrics_namespace=s.string("metrics_namespace", "Autoheal"),
        chat_webhook_parameter=s.string("chat_webhook_parameter", None),
        probe_every=s.duration("probe_every", None, minimum=0.999),
        probe_workers=s.integer("probe_workers", 256, minimum=1),
        remind_every=s.duration("remind_every", 1800.0),
        restart_document=s.string("restart_document", "autoheal-restart"),
    )


def read_expect(s: Section) -> Expect:
    statuses = s.list_of("status", int, "an HTTP status code")
    for code in statuses:
        if not 100 <= code <= 599:
            s.error(f"expected HTTP status codes 100-599, got {code}", "status")
    json_paths = s.raw("json", {})
    if not isinstance(json_paths, Mapping):
        s.error("expected a mapping of dotted path -> value", "json")
        json_paths = {}
    return s.build(
        Expect,
        status=tuple(statuses),
        max_response_time=s.duration("max_response_time", None),
        json={str(k): v for k, v in json_paths.items()},
        body_contains=s.string("body_contains", None),
        certificate_valid_for=s.duration("certificate_valid_for", None),
    )


def read_monitor(s: Section) -> Monitor:
    name = s.string("name")
    if isinstance(name, str) and not NAME.match(name):
        s.error("expected letters, digits, '.', '_' or '-' (at most 64)", "name")
    kind = s.choice("kind", MONITOR_KINDS, "http")
    url = s.string("url")
    if s.data.get("kind", "http") == kind:  # an unknown kind is reported already; its URL can't be judged
        check_url(s, url, kind)
    monitor = s.build(
        Monitor,
        name=name,
        url=url,
        component=s.string("component", name or ""),
        kind=kind,
        method=s.choice("method", ("GET", "HEAD", "POST"), "GET"),
        headers=s.string_map("headers"),
        timeout=s.duration("timeout", 5.0),
        retries=s.integer("retries", 1, minimum=0),
        failure_threshold=s.integer("failure_threshold", 3, minimum=1),
        success_threshold=s.integer("success_threshold", 2, minimum=1),
        verify_tls=s.boolean("verify_tls", True),
        ca_bundle=s.string("ca_bundle", None),
        expect=read_expect(s.section("expect")),
        runbook=s.string("runbook", None),
    )
    if monitor.expect.certificate_valid_for and not str(url).startswith(("https://", "wss://")):
        s.error("certificate_valid_for needs an https:// or wss:// url", "expect")
    if monitor.expect.certificate_valid_for and not monitor.verify_tls:
        s.error("certificate_valid_for needs verify_tls: true (an unverified chain proves nothing)", "expect")
    return monitor


def check_url(s: Section, url: object, kind: str) -> None:
    if not isinstance(url, str) or kind not in URL_SCHEMES:
        return
    parts = urlsplit(url)
    schemes = URL_SCHEMES[kind]
    if parts.scheme not in schemes or not parts.hostname:
        example = {
            "http": "https://app.example.com/healthz",
            "websocket": "wss://app.example.com/ws",
            "tcp": "tcp://db.internal:5432",
        }[kind]
        s.error(f"expected a {'/'.join(schemes)} URL for kind {kind} like {example!r}, got {url!r}", "url")
    elif kind == "tcp" and parts.port is None:
        s.error(f"expected tcp://host:port, got {url!r}", "url")


def read_alarm(s: Section) -> AlarmRoute:
    return s.build(AlarmRoute, match=s.string("match"), runbook=s.string("runbook"))


def read_targets(s: Section) -> Targets:
    targets = s.build(
        Targets,
        tag=s.string_map("tag"),
        instance_ids=s.string_list("instance_ids"),
        target_group=s.string("target_group", None),
    )
    chosen = sum(bool(x) for x in (targets.tag, targets.instance_ids, targets.target_group))
    if chosen != 1:
        s.error("expected exactly one of tag, instance_ids, target_group")
    for instance_id in targets.instance_ids:
        if not re.match(r"^(i|mi)-[0-9a-f]{8,17}$", instance_id):
            s.error(f"expected an instance id like i-0123456789abcdef0, got {instance_id!r}", "instance_ids")
    return targets


def read_runbook(s: Section, name: str) -> Runbook:
    budget = s.section("budget")
    steps = tuple(read_step(Section(item, path, s.errors)) for path, item in s.items("steps", required=True))
    if not steps and "steps" in s.data:
        s.error("expected at least one step", "steps")
    return s.build(
        Runbook,
        name=name,
        targets=read_targets(s.section("targets", required=True)),
        steps=steps,
        budget=budget.build(
            Budget, max_runs=budget.integer("max_runs", 3, minimum=1), per=budget.duration("per", 1800.0)
        ),
        maintenance_page=s.boolean("maintenance_page", False),
    )


def read_step(s: Section) -> Step:
    actions = [key for key in s.data if key in STEP_ACTIONS]
    if len(s.data) != 1 or len(actions) != 1:
        s.error(f"expected exactly one action, one of {', '.join(STEP_ACTIONS)}")
        s.seen.update(s.data)
        return Step("invalid")
    action = actions[0]
    body = s.section(action)
    s.finish()
    return Step(action, STEP_READERS[action](body))


def read_restart(s: Section) -> dict:
    service = s.string("service")
    if isinstance(service, str) and not SERVICE_NAME.match(service):
        s.error("expected a service name of letters, digits and _.@- (at most 64)", "service")
    params = {"service": service, "manager": s.choice("manager", SERVICE_MANAGERS, "pm2")}
    s.finish()
    return params


def read_verify(s: Section) -> dict:
    params = {"monitors": s.string_list("monitors"), "within": s.duration("within", 120.0)}
    if not params["monitors"]:
        s.error("expected at least one monitor name", "monitors")
    s.finish()
    return params


def read_run(s: Section) -> dict:
    document = s.string("document")
    if isinstance(document, str) and not SSM_DOCUMENT.match(document):
        s.error("expected an SSM document name", "document")
    parameters = s.raw("parameters", {})
    if not isinstance(parameters, Mapping) or not all(
        isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in parameters.values()
    ):
        s.error("expected a mapping of parameter -> fixed string value", "parameters")
        parameters = {}
    s.finish()
    return {"document": document, "parameters": {str(k): [str(v)] for k, v in parameters.items()}}


def read_maintenance(s: Section) -> dict:
    params = {"mode": s.choice("mode", ("on", "off"), "on"), "message": s.string("message", None)}
    s.finish()
    return params


def read_empty(s: Section) -> dict:
    s.finish()
    return {}


STEP_READERS = {
    "restart": read_restart,
    "verify": read_verify,
    "reboot": read_empty,
    "replace": read_empty,
    "run": read_run,
    "maintenance": read_maintenance,
    "escalate": read_empty,
}


def read_deployment(s: Section, name: str) -> Deployment:
    listener = s.section("listener", required=True)
    strategy = s.choice("strategy", STRATEGIES, "canary")
    steps = tuple(s.list_of("steps", int, "a percentage", (10, 50, 100)))
    problem = plan_problem(strategy, steps)
    if problem:
        s.error(problem.split(": ", 1)[1], "steps")
    test_listener = s.section("test_listener")
    hooks = s.section("hooks")
    deployment = s.build(
        Deployment,
        name=name,
        listener=listener.build(
            Listener,
            load_balancer=listener.string("load_balancer"),
            port=listener.integer("port", minimum=1),
        ),
        blue=s.string("blue"),
        green=s.string("green"),
        strategy=strategy,
        steps=steps,
        step_interval=s.duration("step_interval", 300.0),
        gates=read_gates(s.section("gates")),
        test_listener=test_listener.build(
            lambda port: port, port=test_listener.integer("port", None, minimum=1)
        ),
        hooks=hooks.build(
            Hooks,
            before_start=hooks.string_list("before_start"),
            after_promote=hooks.string_list("after_promote"),
        ),
        max_hold=s.duration("max_hold", None),
    )
    if deployment.blue and deployment.blue == deployment.green:
        s.error(f"expected a target group other than blue ({deployment.blue!r})", "green")
    if deployment.test_listener is not None and deployment.test_listener == deployment.listener.port:
        s.error("expected a port other than the listener's", "test_listener.port")
    for document in deployment.hooks.after_promote:
        if not SSM_DOCUMENT.match(document):
            s.error(f"expected SSM document names, got {document!r}", "hooks.after_promote")
    return deployment


def read_gates(s: Section) -> Gates:
    compare = s.section("compare") if "compare" in s.data else None
    return s.build(
        Gates,
        monitors=s.string_list("monitors"),
        alarms=s.string_list("alarms"),
        compare=compare.build(
            Compare,
            error_rate_margin=read_fraction(compare, "error_rate_margin", 0.01),
            latency_margin=read_fraction(compare, "latency_margin", 0.2),
            min_requests=compare.integer("min_requests", 100, minimum=1),
        )
        if compare is not None
        else None,
    )


def read_fraction(s: Section, key: str, default: float) -> float:
    value = s.raw(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10:
        s.error(f"expected a fraction like 0.05 (0..10), got {value!r}", key)
        return default
    return float(value)


def cross_check(config: Config) -> list[str]:
    """References between sections: every name used must be defined."""
    errors = []
    names = [m.name for m in config.monitors]
    for i, monitor in enumerate(config.monitors):
        if names.count(monitor.name) > 1 and names.index(monitor.name) != i:
            errors.append(f"monitors[{i}].name: duplicate monitor name {monitor.name!r}")
        if monitor.runbook and monitor.runbook not in config.runbooks:
            errors.append(f"monitors[{i}].runbook: no runbook named {monitor.runbook!r}")
    for i, route in enumerate(config.alarms):
        if route.runbook and route.runbook not in config.runbooks:
            errors.append(f"alarms[{i}].runbook: no runbook named {route.runbook!r}")
    for name, runbook in config.runbooks.items():
        for j, step in enumerate(runbook.steps):
            for monitor in step.params.get("monitors", ()):
                if monitor not in names:
                    errors.append(f"runbooks.{name}.steps[{j}].verify.monitors: no monitor named {monitor!r}")
    errors.extend(cross_check_deployments(config, names))
    return errors


def cross_check_deployments(config: Config, names: list[str]) -> list[str]:
    errors = []
    for name, deployment in config.deployments.items():
        for monitor in deployment.gates.monitors:
            if monitor not in names:
                errors.append(f"deployments.{name}.gates.monitors: no monitor named {monitor!r}")
        for monitor in deployment.hooks.before_start:
            if monitor not in names:
                errors.append(f"deployments.{name}.hooks.before_start: no monitor named {monitor!r}")
    return errors
