"""The validated configuration: frozen dataclasses, built only by `config.loader`.

Durations are seconds (float). Optional sections are None when absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Mapping, Optional

from chalicelib.config.vantage import VantagePoints

SERVICE_MANAGERS = ("pm2", "systemd", "docker")
SSM_DOCUMENT = re.compile(r"^[A-Za-z0-9_.:/-]{3,128}$")  # an SSM document name


@dataclass(frozen=True)
class ChannelPolicy:
    """When a channel hears of an incident (`settings.notify.<channel>`)."""

    # `if_not_healed_within`: it hears only of incidents still open this long after they opened
    # (a healed one is in the digest alone). 0: at once (after group_wait). Escalations and an
    # exhausted budget always go out at once.
    delay: float = 0.0
    max_per_hour: Optional[int] = None  # past it, messages fold into the digest (the last says so)
    params: Mapping[str, object] = field(default_factory=dict)  # what the channel kind read itself


@dataclass(frozen=True)
class Digest:
    """`settings.digest`: when the day's incidents are told, and to which channels."""

    cron: str = "0 9 * * *"
    time_zone: str = "UTC"
    channels: tuple[str, ...] = ()  # the loader's default: the channels whose kind is `in_digest`

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.cron, self.time_zone)


@dataclass(frozen=True)
class Settings:
    state_table: str
    alarm_topic: str
    notify_topic: str
    status_bucket: str
    metrics_namespace: str = "Autoheal"
    chat_webhook_parameter: Optional[str] = None
    probe_every: Optional[float] = None  # sub-minute probing inside one invocation
    probe_workers: int = 256  # probes in flight at once
    remind_every: Optional[float] = 1800.0  # reminders while an incident stays open
    restart_document: str = "autoheal-restart"  # the project's own SSM Command document
    diagnose_document: str = "autoheal-diagnose"  # read-only: what a restart would destroy
    diagnostics_bucket: Optional[str] = None  # private; where diagnoses are kept (`diagnose`)
    # How long the opening message of an incident waits for the other signals of the same
    # outage (0: no wait). It never delays an action.
    group_wait: float = 5.0
    # The channels autoheal tells, each with its policy (`config.kinds.CHANNELS`); the loader
    # adds those on by default. Built by hand: the notify topic's two, e-mail and SMS.
    notify: Mapping[str, ChannelPolicy] = field(
        default_factory=lambda: {"email": ChannelPolicy(), "sms": ChannelPolicy()}
    )
    # The daily digest (on by default as soon as a channel waits or is limited: what it was not
    # told must reach it somewhere); None: no digest.
    digest: Optional[Digest] = None
    # Where the status page's subscribe form posts (the deployed API's URL plus /subscribe, the
    # packaged template's SubscribeURL output); None: the page shows no form.
    subscribe_url: Optional[str] = None
    # The regions that must agree before a monitor is DOWN for acting; None: this region alone.
    vantage: Optional[VantagePoints] = None


@dataclass(frozen=True)
class Expect:
    status: tuple[int, ...] = ()  # empty: any 2xx
    max_response_time: Optional[float] = None
    json: Mapping[str, object] = field(default_factory=dict)  # dotted path -> value
    body_contains: Optional[str] = None
    certificate_valid_for: Optional[float] = None


@dataclass(frozen=True)
class Monitor:
    name: str
    url: str
    component: str = ""
    group: str = ""  # the status page's heading its component is listed under (none: on its own)
    kind: str = "http"
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 5.0
    retries: int = 1
    failure_threshold: int = 3
    success_threshold: int = 2
    verify_tls: bool = True
    ca_bundle: Optional[str] = None
    expect: Expect = field(default_factory=Expect)
    runbook: Optional[str] = None
    metrics: bool = False  # per-monitor CloudWatch metrics ($0.30 a month each): for alarms that need them
    depends_on: tuple[
        str, ...
    ] = ()  # while one of these is DOWN, this monitor's alerts fold into its incident
    options: Mapping[str, object] = field(default_factory=dict)  # what its check kind read itself

    @property
    def attempts(self) -> int:
        return 1 + self.retries


@dataclass(frozen=True)
class AlarmRoute:
    match: str  # glob on AlarmName
    runbook: str


@dataclass(frozen=True)
class Budget:
    max_runs: int = 3
    per: float = 1800.0


@dataclass(frozen=True)
class Targets:
    tag: Mapping[str, str] = field(default_factory=dict)
    instance_ids: tuple[str, ...] = ()
    target_group: Optional[str] = None  # its unhealthy targets


@dataclass(frozen=True)
class Step:
    """One runbook step: `action` names a kind in `config.kinds.STEPS`; `params` holds the
    fields that kind's `read` validated."""

    action: str
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Schedule:
    """When a runbook runs by itself (`0 3 * * *` in `time_zone`), as a nightly cron restart does."""

    cron: str
    time_zone: str = "UTC"


@dataclass(frozen=True)
class Runbook:
    name: str
    targets: Targets
    steps: tuple[Step, ...]
    budget: Budget = field(default_factory=Budget)
    maintenance_page: bool = False
    max_concurrent: int = 1  # targets acted on at once
    max_share: float = 0.5  # of the tier acted on at once
    schedule: Optional[Schedule] = None


@dataclass(frozen=True)
class Compare:
    """Candidate against stable over a step (AWS/ApplicationELB per-target-group metrics)."""

    error_rate_margin: float = 0.01  # absolute: 0.01 lets the candidate's 5xx rate be 1 point worse
    latency_margin: float = 0.2  # relative: the candidate's p95 may be 20% slower
    min_requests: int = 100  # fewer on either side: inconclusive, the step holds


@dataclass(frozen=True)
class Gates:
    """`deployments.<name>.gates`: each gate's value by its kind (`config.kinds.GATES`); a gate
    not named is off. The properties read the built-in gates' values."""

    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def monitors(self) -> tuple[str, ...]:
        return tuple(self.params.get("monitors") or ())  # type: ignore[call-overload]

    @property
    def alarms(self) -> tuple[str, ...]:
        return tuple(self.params.get("alarms") or ())  # type: ignore[call-overload]

    @property
    def compare(self) -> Optional[Compare]:
        found = self.params.get("compare")
        return found if isinstance(found, Compare) else None


@dataclass(frozen=True)
class Hooks:
    """Run around a shift (the runbook step registry will take these over)."""

    before_start: tuple[str, ...] = ()  # monitors probed (on the test listener) before any move
    # `run` steps (document, fixed parameters) sent to the promoted group's targets
    after_promote: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Listener:
    load_balancer: str
    port: int


@dataclass(frozen=True)
class Deployment:
    name: str
    listener: Listener
    blue: str
    green: str
    strategy: str = "canary"
    steps: tuple[int, ...] = (10, 50, 100)
    step_interval: float = 300.0
    gates: Gates = field(default_factory=Gates)
    test_listener: Optional[int] = None  # a port whose listener always forwards to the candidate
    hooks: Hooks = field(default_factory=Hooks)
    max_hold: Optional[float] = None  # how long a step may be held past its move; default max(2 steps, 10m)


@dataclass(frozen=True)
class MaintenanceWindow:
    """A scheduled maintenance: at `start` (local to `time_zone`) or at every `cron` match.

    `start` is an aware datetime; `duration` is elapsed seconds (a 2 h window is 2 h long even
    on a night the clocks change). Empty `components` means every component.
    """

    duration: float
    message: str
    time_zone: str = "UTC"
    start: Optional[datetime] = None
    cron: Optional[str] = None
    components: tuple[str, ...] = ()


DEFAULT_HEALTH_PATHS = ("/healthz", "/api/healthz")
MAINTENANCE_FORMS = ("redirect", "fixed-response")


@dataclass(frozen=True)
class MaintenanceListener:
    """The ALB listener maintenance diverts, and where it sends users.

    `page_url` None means the status bucket's S3 website (`http://<bucket>.s3-website-<region>
    .amazonaws.com/maintenance.html`, the region read at run time).
    """

    load_balancer: str
    port: int
    form: str = "redirect"
    page_url: Optional[str] = None
    # The components users reach through this listener (empty: every component). It is diverted
    # only by a maintenance that covers all of them; one component's leaves the site up.
    components: tuple[str, ...] = ()


@dataclass(frozen=True)
class MaintenanceConfig:
    """What the maintenance page polls, and the scheduled windows.

    `app_url` is where the page sends users back (and the base of `health_paths`); None means
    the page's own origin (the page served as the app's error page by CloudFront).
    """

    health_paths: tuple[str, ...] = DEFAULT_HEALTH_PATHS
    app_url: Optional[str] = None
    windows: tuple[MaintenanceWindow, ...] = ()
    listener: Optional[MaintenanceListener] = None  # None: no ALB is diverted


@dataclass(frozen=True)
class Config:
    settings: Settings
    monitors: tuple[Monitor, ...] = ()
    alarms: tuple[AlarmRoute, ...] = ()
    runbooks: Mapping[str, Runbook] = field(default_factory=dict)
    deployments: Mapping[str, Deployment] = field(default_factory=dict)
    maintenance: MaintenanceConfig = field(default_factory=MaintenanceConfig)

    def monitor(self, name: str) -> Optional[Monitor]:
        return self.monitors_by_name.get(name)

    @cached_property
    def monitors_by_name(self) -> Mapping[str, Monitor]:
        """Names are unique (the loader checks), so a lookup is one dict access."""
        return {m.name: m for m in self.monitors}
