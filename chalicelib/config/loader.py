"""Load and validate the autoheal YAML: every error at once, by key path.

>>> config = load_config("autoheal.yaml")           # doctest: +SKIP
>>> config.monitor("web").timeout                   # doctest: +SKIP
5.0
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from typing import Any, Mapping, Optional, Union
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from chalicelib.config.dependencies import dependency_errors
from chalicelib.config.errors import ConfigError
from chalicelib.config.fields import Section
from chalicelib.config.kinds import CHANNELS, CHECKS, GATES, STEPS
from chalicelib.config.model import (
    MAINTENANCE_FORMS,
    AlarmRoute,
    Budget,
    ChannelPolicy,
    Config,
    Deployment,
    Digest,
    Expect,
    Gates,
    Hooks,
    Listener,
    MaintenanceConfig,
    MaintenanceListener,
    MaintenanceWindow,
    Monitor,
    Runbook,
    Schedule,
    Settings,
    Step,
    Targets,
)
from chalicelib.config.source import MAX_BYTES, read_source, redact
from chalicelib.config.strategies import STRATEGIES, given_steps_problem, plan_problem
from chalicelib.config.vantage import read_vantage

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110's token
# A CR or LF in a header would end it and start another (header injection); no control
# character belongs in a header value but the tab.
HEADER_VALUE_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# One attempt must fit in one probe cycle: the probe runs every minute, ends its cycle 3 s before
# the next (its Lambda timeout, .chalice/config.json, is 75 s): a longer timeout never completes.
MAX_MONITOR_TIMEOUT = 55.0
PROBE_LAMBDA_TIMEOUT = 75
MONITOR_TIMEOUT_LIMIT = (
    f"an attempt must fit in a 1m probe cycle; the probe Lambda's timeout is {PROBE_LAMBDA_TIMEOUT}s"
)


def load_config(path: str) -> Config:
    """Read `path` and return the validated Config, or raise ConfigError listing every error."""
    try:
        with open(path, "rb") as handle:
            content = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    return parse_config(content, source=path)


def parse_config(
    text: Union[str, bytes], source: str = "config", environ: Mapping[str, str] | None = None
) -> Config:
    """Validate a config's text; ConfigError (and nothing else) lists every problem by key path."""
    data, secrets = read_source(text, source, os.environ if environ is None else environ)
    errors: list[str] = []
    config = build_config(data, errors)
    if errors:
        secrets = secrets + header_values(data)
        raise ConfigError([redact(error, secrets) for error in errors])
    return config


def header_values(data: Any) -> list[str]:
    """Header values carry tokens: no message may quote them."""
    monitors = data.get("monitors") if isinstance(data, Mapping) else None
    found = []
    for monitor in monitors if isinstance(monitors, list) else []:
        headers = monitor.get("headers") if isinstance(monitor, Mapping) else None
        if isinstance(headers, Mapping):
            found.extend(str(value) for value in headers.values() if isinstance(value, (str, int)))
    return found


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
    maintenance = read_maintenance_config(root.section("maintenance"))
    root.finish()
    config = Config(settings, monitors, alarms, runbooks, deployments, maintenance)
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
        diagnose_document=s.string("diagnose_document", "autoheal-diagnose"),
        diagnostics_bucket=s.string("diagnostics_bucket", None),
        group_wait=read_group_wait(s),
        notify=(notify := read_notify(s.section("notify"), s.data)),
        digest=read_digest(s, notify),
        subscribe_url=read_subscribe_url(s),
        vantage=read_vantage(s),
    )


def read_subscribe_url(s: Section) -> Optional[str]:
    """An https:// URL ending in /subscribe; http:// only on 127.0.0.1 (Chalice's local server)."""
    url = s.string("subscribe_url", None)
    if not isinstance(url, str):
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # an unclosed [ of an IPv6 host
        parts, host = urlsplit(""), None
    local = parts.scheme == "http" and host == "127.0.0.1"
    spaced = any(c.isspace() or not c.isprintable() for c in url)
    if not (parts.scheme == "https" or local) or not host or spaced or not parts.path.endswith("/subscribe"):
        s.error(
            "expected an https:// URL ending in /subscribe (the packaged template's SubscribeURL"
            f" output; http:// only for 127.0.0.1), got {url!r}",
            "subscribe_url",
        )
        return None
    return url


def read_digest(s: Section, notify: Mapping[str, ChannelPolicy]) -> Optional[Digest]:
    """`digest: {cron, time_zone, channels}`, `false` for none; absent: on at 09:00 UTC when a
    channel waits or is limited (what it was not told must reach it), else none."""
    value = s.raw("digest", None)
    if value is False:
        return None
    if value is None:
        deferred = any(p.delay > 0 or p.max_per_hour is not None for p in notify.values())
        return Digest(channels=default_digest_channels(notify)) if deferred else None
    d = s.section("digest")
    cron, zone = read_cron(d) or "0 9 * * *", read_time_zone(d)
    channels = d.string_list("channels", default_digest_channels(notify))
    for i, channel in enumerate(channels):
        if channel not in notify:
            d.errors.append(
                f"{d.key_path('channels')}[{i}]: expected one of the channels of settings.notify "
                f"({', '.join(notify)}), got {channel!r}"
            )
    return d.build(Digest, cron=cron, time_zone=zone, channels=tuple(c for c in channels if c in notify))


def default_digest_channels(notify: Mapping[str, ChannelPolicy]) -> tuple[str, ...]:
    return tuple(c for c in notify if c in CHANNELS and CHANNELS[c].in_digest)


def read_notify(s: Section, settings: Mapping[str, Any]) -> dict[str, ChannelPolicy]:
    """`{email: immediately, sms: {if_not_healed_within: 2m, max_per_hour: 5}}`; a channel not
    named hears immediately when its kind is on by default. Each kind may refuse to be named
    (`refused`) and reads its own keys beside the policy's."""
    policies = {name: ChannelPolicy() for name, kind in CHANNELS.items() if kind.on_by_default(settings)}
    s.seen.update(CHANNELS.names())  # finish() names any other key with the channels allowed
    for name in [str(key) for key in s.data if key in CHANNELS]:
        refused = CHANNELS[name].refused(settings)
        if refused:
            s.error(refused, name)
            continue
        policies[name] = read_channel_policy(s, name)
    s.finish()
    return policies


def read_channel_policy(s: Section, name: str) -> ChannelPolicy:
    value, kind = s.data[name], CHANNELS[name]
    if value == "immediately":
        own = Section({}, s.key_path(name), s.errors)
        return ChannelPolicy(params=kind.read(own))
    if not isinstance(value, Mapping):
        expected = "'immediately' or a mapping (if_not_healed_within, max_per_hour)"
        s.error(f"expected {expected}, got {value!r}", name)
        return ChannelPolicy()
    policy = s.section(name)
    return policy.build(
        ChannelPolicy,
        delay=policy.duration("if_not_healed_within", 0.0, maximum=86400.0),
        max_per_hour=policy.integer("max_per_hour", None, minimum=1),
        params=kind.read(policy),
    )


def read_group_wait(s: Section) -> float:
    """A duration, or 0 / "0s" to send the opening message at once."""
    if s.data.get("group_wait") in (0, "0", "0s"):
        s.seen.add("group_wait")
        return 0.0
    return s.duration("group_wait", 5.0, maximum=300.0)


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
    kind = s.choice("kind", CHECKS.names(), "http")
    url = s.string("url")
    known = s.data.get("kind", "http") == kind and kind in CHECKS
    if known:  # an unknown kind is reported already; its URL can't be judged
        CHECKS[kind].check_url(s, url)
    monitor = s.build(
        Monitor,
        name=name,
        url=url,
        component=s.string("component", name or ""),
        group=s.string("group", ""),
        kind=kind,
        method=s.choice("method", ("GET", "HEAD", "POST"), "GET"),
        headers=read_headers(s),
        timeout=s.duration("timeout", 5.0, maximum=MAX_MONITOR_TIMEOUT, why=MONITOR_TIMEOUT_LIMIT),
        retries=s.integer("retries", 1, minimum=0),
        failure_threshold=s.integer("failure_threshold", 3, minimum=1),
        success_threshold=s.integer("success_threshold", 2, minimum=1),
        verify_tls=s.boolean("verify_tls", True),
        ca_bundle=s.string("ca_bundle", None),
        expect=read_expect(s.section("expect")),
        runbook=s.string("runbook", None),
        metrics=s.boolean("metrics", False),
        depends_on=s.string_list("depends_on"),
        options=CHECKS[kind].read(s) if known else {},
    )
    if monitor.expect.certificate_valid_for and not str(url).startswith(("https://", "wss://")):
        s.error("certificate_valid_for needs an https:// or wss:// url", "expect")
    if monitor.expect.certificate_valid_for and not monitor.verify_tls:
        s.error("certificate_valid_for needs verify_tls: true (an unverified chain proves nothing)", "expect")
    return monitor


def read_headers(s: Section) -> dict[str, str]:
    """Header names are tokens; values hold no control character (a CRLF would add a header).
    A bad value is named by its position only: header values carry tokens."""
    headers = s.string_map("headers")
    for name, value in list(headers.items()):
        if not HEADER_NAME.fullmatch(name):
            s.error(f"expected header names of letters, digits and !#$%&'*+-.^_`|~, got {name!r}", "headers")
            del headers[name]
        elif found := HEADER_VALUE_FORBIDDEN.search(value):
            s.error(
                f"expected a header value without control characters, got {found.group()!r} "
                f"at position {found.start()}",
                f"headers.{name}",
            )
            del headers[name]
    return headers


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
        max_concurrent=s.integer("max_concurrent", 1, minimum=1),
        max_share=read_share(s, "max_share", 0.5),
        schedule=read_schedule(s.section("schedule")) if "schedule" in s.data else None,
    )


def read_schedule(s: Section) -> Schedule:
    cron, zone = read_cron(s, required=True), read_time_zone(s)
    return s.build(Schedule, cron=cron or "0 3 * * *", time_zone=zone)


def read_time_zone(s: Section) -> str:
    """An IANA zone name (default UTC); an unknown one is an error and UTC stands in."""
    name = s.string("time_zone", "UTC")
    try:
        if isinstance(name, str):
            ZoneInfo(name)
            return name
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        pass
    s.error(f"expected an IANA time zone like 'Europe/Berlin', got {name!r}", "time_zone")
    return "UTC"


def read_cron(s: Section, required: bool = False) -> str | None:
    """A five-field cron expression (cronsim's rules), or None when absent or invalid."""
    cron = s.string("cron") if required else s.string("cron", None)
    if not isinstance(cron, str):
        return None
    fields = len(cron.split())
    if fields != 5:
        # cronsim would take a sixth field as seconds; EventBridge's cron() has six with a year.
        s.error(
            "expected a cron expression of 5 fields (minute hour day-of-month month day-of-week) "
            f"like '0 2 * * SUN', got {fields} fields in {cron!r}: neither seconds nor a year are taken",
            "cron",
        )
        return None
    from cronsim import CronSim, CronSimError

    try:
        CronSim(cron, datetime(2000, 1, 1))
    except CronSimError as exc:
        s.error(f"expected a cron expression like '0 2 * * SUN', got {cron!r} ({exc})", "cron")
        return None
    return cron


def read_share(s: Section, key: str, default: float) -> float:
    """A share of a tier: `50%` or `0.5`, above 0 and at most 100%."""
    value = s.raw(key, default)
    if isinstance(value, str) and value.endswith("%") and value[:-1].replace(".", "", 1).isdigit():
        value = float(value[:-1]) / 100
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        s.error(f"expected a share like 50% or 0.5 (above 0, at most 100%), got {value!r}", key)
        return default
    return float(value)


def read_step(s: Section) -> Step:
    """Each step is a mapping with exactly one key, the kind; its kind reads its own section."""
    actions = [key for key in s.data if key in STEPS]
    if len(s.data) != 1 or len(actions) != 1:
        s.error(step_shape_problem(list(s.data), actions))
        s.seen.update(s.data)
        return Step("invalid")
    action = actions[0]
    body = s.section(action)
    s.finish()
    params = STEPS[action].read(body)
    body.finish()
    return Step(action, params)


def step_shape_problem(keys: list[str], kinds: list[str]) -> str:
    """Why a step is not one mapping of one kind: a misspelt kind, two kinds, a stray key."""
    others = [str(key) for key in keys if key not in kinds]
    if not kinds and len(others) == 1:
        return STEPS.unknown(others[0])
    if len(kinds) > 1:
        return f"expected one step kind per list item, got {', '.join(kinds)}: give each its own '- '"
    if kinds:  # a parameter beside its kind: usually not indented under it
        stray = ", ".join(map(repr, others))
        return f"expected only {kinds[0]!r} in this step, got also {stray} (indent it under {kinds[0]}?)"
    return f"expected one step kind, one of {', '.join(sorted(STEPS))}"


def read_deployment(s: Section, name: str) -> Deployment:
    listener = s.section("listener", required=True)
    strategy = s.choice("strategy", STRATEGIES, "canary")
    steps = tuple(s.list_of("steps", int, "a percentage", (10, 50, 100)))
    problem = (given_steps_problem if "steps" in s.data else plan_problem)(strategy, steps)
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
            port=listener.integer("port", minimum=1, maximum=65535),
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
            after_promote=tuple(
                read_hook_step(item, path, s.errors) for path, item in hooks.items("after_promote")
            ),
        ),
        max_hold=s.duration("max_hold", None),
    )
    if deployment.blue and deployment.blue == deployment.green:
        s.error(f"expected a target group other than blue ({deployment.blue!r})", "green")
    if deployment.test_listener is not None and deployment.test_listener == deployment.listener.port:
        s.error("expected a port other than the listener's", "test_listener.port")
    return deployment


def read_hook_step(item: object, path: str, errors: list[str]) -> Step:
    """An `after_promote` item: a `run` step, or (short for one without parameters) a document name."""
    if "run" not in STEPS:
        errors.append(f"{path}: {STEPS.unknown('run')}")
        return Step("invalid")
    if isinstance(item, str):
        body = Section({"document": item}, path, errors)
    elif isinstance(item, Mapping) and list(item) == ["run"]:
        body = Section(item["run"], f"{path}.run", errors)
    else:
        errors.append(f"{path}: expected an SSM document name or {{run: {{document: ..., parameters: ...}}}}")
        return Step("invalid")
    params = STEPS["run"].read(body)
    body.finish()
    return Step("run", params)


def read_gates(s: Section) -> Gates:
    """Each gate kind reads its own key; finish() names any other with the gates allowed."""
    values = {name: kind.read_gate(s, name) for name, kind in GATES.items()}
    return s.build(Gates, params={name: value for name, value in values.items() if value})


def read_maintenance_config(s: Section) -> MaintenanceConfig:
    """`maintenance:` {pages: {health_paths, app_url}, windows: [...]}; every key optional."""
    pages = s.section("pages")
    paths = pages.string_list("health_paths", MaintenanceConfig.health_paths)
    for path in paths:
        if not path.startswith("/") or any(c in path for c in " \"'<>\\"):
            pages.error(f"expected absolute paths like '/healthz', got {path!r}", "health_paths")
    if "health_paths" in pages.data and not paths:
        pages.error("expected at least one path", "health_paths")
    app_url = pages.string("app_url", None)
    if isinstance(app_url, str):
        parts = urlsplit(app_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            pages.error(f"expected an http(s) URL like 'https://app.example.com', got {app_url!r}", "app_url")
    pages.finish()
    windows = tuple(read_window(Section(item, path, s.errors)) for path, item in s.items("windows"))
    listener = read_maintenance_listener(s.section("listener")) if "listener" in s.data else None
    return s.build(
        MaintenanceConfig, health_paths=tuple(paths), app_url=app_url, windows=windows, listener=listener
    )


def read_maintenance_listener(s: Section) -> MaintenanceListener:
    """`listener: {load_balancer, port, form, page_url, components}`; absent: maintenance leaves
    the ALB alone."""
    page_url = s.string("page_url", None)
    if isinstance(page_url, str):
        parts = urlsplit(page_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            s.error(
                f"expected an http(s) URL like 'https://status.example.com/m.html', got {page_url!r}",
                "page_url",
            )
    form = s.choice("form", MAINTENANCE_FORMS, "redirect")
    if form == "fixed-response" and isinstance(page_url, str):
        check_fixed_page(s, page_url)
    return s.build(
        MaintenanceListener,
        load_balancer=s.string("load_balancer"),
        port=s.integer("port", minimum=1, maximum=65535),
        form=form,
        page_url=page_url,
        components=s.string_list("components"),
    )


def check_fixed_page(s: Section, page_url: str) -> None:
    """The fixed response names page_url three times; ALB refuses a body over 1,024 bytes, which
    would surface only when maintenance is switched on, mid-incident."""
    from chalicelib.aws.fixed_response import FIXED_RESPONSE_LIMIT, fixed_page

    size = len(fixed_page(page_url, "").encode())
    if size > FIXED_RESPONSE_LIMIT:
        s.error(
            f"too long for form fixed-response: the page that loads it would be {size} bytes, "
            f"over ALB's limit of {FIXED_RESPONSE_LIMIT:,} bytes (use a shorter URL or form: redirect)",
            "page_url",
        )


def read_window(s: Section) -> MaintenanceWindow:
    zone_name = read_time_zone(s)
    start, cron = s.raw("start", None), read_cron(s)
    if (start is None) == ("cron" not in s.data):
        s.error("expected exactly one of start (an ISO time) or cron (a cron expression)")
    start = read_start(s, start, ZoneInfo(zone_name)) if start is not None else None
    return s.build(
        MaintenanceWindow,
        duration=s.duration("duration"),
        message=s.string("message"),
        time_zone=zone_name,
        start=start,
        cron=cron,
        components=s.string_list("components"),
    )


def read_start(s: Section, value: object, zone: object) -> datetime | None:
    """YAML may hand over a datetime already; a time without offset is local to the window's zone."""
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime):
        s.error("expected an ISO time like '2025-03-30T02:00' (local to time_zone)", "start")
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone) if zone else value
    return value


def cross_check(config: Config) -> list[str]:
    """References between sections: every name used must be defined."""
    errors = []
    names = [m.name for m in config.monitors]
    for i, monitor in enumerate(config.monitors):
        if names.count(monitor.name) > 1 and names.index(monitor.name) != i:
            errors.append(f"monitors[{i}].name: duplicate monitor name {monitor.name!r}")
        if monitor.runbook and monitor.runbook not in config.runbooks:
            errors.append(f"monitors[{i}].runbook: no runbook named {monitor.runbook!r}")
        if monitor.kind in CHECKS:
            errors.extend(CHECKS[monitor.kind].cross_check(monitor.options, config, f"monitors[{i}]"))
    for channel, policy in config.settings.notify.items():
        if channel in CHANNELS:
            where = f"settings.notify.{channel}"
            errors.extend(CHANNELS[channel].cross_check(policy.params, config, where))
    for i, route in enumerate(config.alarms):
        if route.runbook and route.runbook not in config.runbooks:
            errors.append(f"alarms[{i}].runbook: no runbook named {route.runbook!r}")
    for name, runbook in config.runbooks.items():
        for j, step in enumerate(runbook.steps):
            if step.action in STEPS:
                where = f"runbooks.{name}.steps[{j}].{step.action}"
                errors.extend(STEPS[step.action].cross_check(step.params, config, where))
    errors.extend(cross_check_deployments(config, names))
    errors.extend(dependency_errors(config.monitors))
    components = {m.component or m.name for m in config.monitors}
    for i, window in enumerate(config.maintenance.windows):
        for component in window.components:
            if component not in components:
                errors.append(f"maintenance.windows[{i}].components: no component named {component!r}")
    served = config.maintenance.listener.components if config.maintenance.listener else ()
    for component in served:
        if component not in components:
            errors.append(f"maintenance.listener.components: no component named {component!r}")
    return errors


def cross_check_deployments(config: Config, names: list[str]) -> list[str]:
    errors = []
    for name, deployment in config.deployments.items():
        for gate, value in deployment.gates.params.items():
            where = f"deployments.{name}.gates.{gate}"
            errors.extend(GATES[gate].cross_check({"value": value}, config, where))
        for monitor in deployment.hooks.before_start:
            if monitor not in names:
                errors.append(f"deployments.{name}.hooks.before_start: no monitor named {monitor!r}")
    return errors
