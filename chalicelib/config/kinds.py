"""The four kinds a config names, and what each kind declares about itself.

A kind is one class in one module of its domain (a runbook step in `runbooks/steps/`, a probe
check in `probe/checks/`, a notifier channel in `notify/`, a deployment gate in
`deployments/gates.py`), registered into one of the registries below when its module is
imported (`chalicelib.plugins` imports the built-in ones). Besides what it does in its engine,
it declares, as Cloud Custodian's actions do:

- `read`: its own config section, every error by key path;
- `grants`: the IAM statements it needs (actions on a resource the stage names, see
  `autoheal_ops.iam.RESOURCES`, or an ARN pattern), so the policy generator asks the registry;
- `cross_check`: what it names elsewhere in the config (the loader calls it);
- `lookups`: what `check --live` looks up for it in the account;
- `provision`: what the local world creates for it, where it needs anything.

The config layer knows these registries and nothing of the domains that fill them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator, Mapping, Optional
from urllib.parse import urlsplit

from chalicelib.registry import Registry

if TYPE_CHECKING:
    from chalicelib.config.fields import Section
    from chalicelib.config.model import Config

Lookup = tuple[str, Callable[[], object]]  # what is looked up (by key path), and the look-up


@dataclass(frozen=True)
class Grant:
    """One IAM statement a kind needs. `on` is a resource the stage names ("*", "state-table",
    "notify-topic", "stage-instances", ...: `autoheal_ops.iam.RESOURCES`) or an ARN pattern,
    "arn:{partition}:sqs:{region_account}:{prefix}-pages", with the stage's names filled in
    (`autoheal_ops.iam.PATTERN_NAMES`).
    Statements of several kinds with one Sid are one statement with their actions merged."""

    sid: str
    actions: tuple[str, ...]
    on: str


class Kind:
    """What every kind declares; a kind overrides the hooks it needs."""

    kind: ClassVar[str] = ""
    grants: ClassVar[tuple[Grant, ...]] = ()
    iam_actions: ClassVar[tuple[str, ...]] = ()  # every action of `grants` (derived)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "grants" in cls.__dict__ or "iam_actions" not in cls.__dict__:
            cls.iam_actions = tuple(dict.fromkeys(a for g in cls.grants for a in g.actions))

    @classmethod
    def read(cls, s: Section) -> dict[str, Any]:
        """Validated params from the kind's config section; errors go to `s` by key path."""
        return {}

    @classmethod
    def cross_check(cls, params: Mapping[str, Any], config: Config, where: str) -> list[str]:
        """Problems with what the params name elsewhere in `config`, each starting with `where`."""
        return []

    @classmethod
    def lookups(cls, params: Mapping[str, Any], config: Config, where: str) -> list[Lookup]:
        """`check --live`: each call raises when what the params name is not in the account."""
        return []

    @classmethod
    def provision(cls, params: Mapping[str, Any], config: Config, local: Mapping[str, str]) -> None:
        """Create in the local AWS what this kind needs beyond the resources template."""


class MonitorKind(Kind):
    """A probe check kind's config side: which URLs it takes (`monitors[].kind`)."""

    schemes: ClassVar[tuple[str, ...]] = ()
    example: ClassVar[str] = ""
    needs_port: ClassVar[bool] = False

    @classmethod
    def check_url(cls, s: Section, url: object) -> None:
        if not isinstance(url, str):
            return
        try:
            parts = urlsplit(url)
            port = parts.port  # raises on a port out of range or not a number
        except ValueError:
            # Not quoted: the URL may hold a value from the environment.
            s.error("expected a URL with a valid host (IPv6 in [brackets]) and a port 1-65535", "url")
            return
        if port == 0:
            s.error("expected a port 1-65535, got 0", "url")
        elif parts.scheme not in cls.schemes or not parts.hostname:
            wanted = "/".join(cls.schemes)
            s.error(f"expected a {wanted} URL for kind {cls.kind} like {cls.example!r}, got {url!r}", "url")
        elif cls.needs_port and port is None:
            s.error(f"expected {cls.schemes[0]}://host:port, got {url!r}", "url")


class ChannelKind(Kind):
    """A notifier channel's config side (`settings.notify.<channel>`)."""

    in_digest: ClassVar[bool] = False  # the digest goes to it unless settings.digest.channels says

    @classmethod
    def refused(cls, settings: Mapping[str, Any]) -> Optional[str]:
        """Why the channel cannot be named given the raw `settings` (None: it can)."""
        return None

    @classmethod
    def on_by_default(cls, settings: Mapping[str, Any]) -> bool:
        """Whether it hears of incidents (immediately) when `settings.notify` does not name it."""
        return cls.refused(settings) is None


class GateKind(Kind):
    """A deployment gate's config side: one key of `deployments.<name>.gates`."""

    at_move_only: ClassVar[bool] = False  # decided when traffic moves, not while a step bakes
    always: ClassVar[bool] = False  # decided for every deployment, named in its gates or not

    @classmethod
    def read_gate(cls, s: Section, key: str) -> Any:
        """The gate's value from the gates section (falsy: the gate is off)."""
        return None


STEPS: Registry[type[Kind]] = Registry("step kind")
CHECKS: Registry[type[MonitorKind]] = Registry("monitor kind")
CHANNELS: Registry[type[ChannelKind]] = Registry("notify channel")
GATES: Registry[type[GateKind]] = Registry("deployment gate")


@dataclass(frozen=True)
class Use:
    """One place a config uses a kind: the kind, its params there and the key path."""

    kind: type[Kind]
    params: Mapping[str, Any]
    where: str


def uses(config: Config) -> Iterator[Use]:
    """Every kind the config uses, each with its params and where (look-ups, provisioning)."""
    for name, policy in config.settings.notify.items():
        if name in CHANNELS:
            yield Use(CHANNELS[name], policy.params, f"settings.notify.{name}")
    for i, monitor in enumerate(config.monitors):
        if monitor.kind in CHECKS:
            yield Use(CHECKS[monitor.kind], monitor.options, f"monitors[{i}]")
    for name, runbook in config.runbooks.items():
        for j, step in enumerate(runbook.steps):
            if step.action in STEPS:
                yield Use(STEPS[step.action], step.params, f"runbooks.{name}.steps[{j}].{step.action}")
    for name, deployment in config.deployments.items():
        for gate, value in deployment.gates.params.items():
            if gate in GATES:
                yield Use(GATES[gate], {"value": value}, f"deployments.{name}.gates.{gate}")
