"""A stand-in SSM agent: runs the restart commands that moto only records.

moto stores ``send_command`` calls (``list_commands`` returns them with their
``InstanceIds`` and ``Parameters``) but runs nothing. This agent polls moto, and for
each new command on one of its instances that uses the restart document, validates
the parameters as the deployed document's ``allowedPattern`` would, then follows the
document's script against a model of the host (:class:`Host`): which users exist,
which processes each user's PM2 daemon manages, which systemd units and docker
containers there are. A restart that names what the host runs restarts the local
fleet process; anything else fails with the message and exit code the real tool
gives, e.g. ``pm2 restart web`` as a user whose daemon does not manage ``web``::

    [PM2][ERROR] Process or Namespace web not found      (exit 1)

Other documents are recorded as "ran" and do nothing.

Usage::

    from sandbox.ssm_agent import SsmAgent

    agent = SsmAgent(boto3.client("ssm"), fleet, fleet.register_instances(ec2))
    agent.start()
    command_id = ssm.send_command(
        DocumentName="autoheal-restart",
        InstanceIds=[ids["blue-1"]],
        Parameters={"service": ["web"], "manager": ["pm2"], "user": ["app"]},
    )["Command"]["CommandId"]
    agent.wait_for(command_id)      # [LogEntry(..., action="pm2 restart web", result="ok")]
    agent.stop()
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sandbox.fleet import Fleet
from sandbox.provision import restart_document_content

logger = logging.getLogger(__name__)

RESTART_DOCUMENT = "autoheal-restart"
# The user whose PM2 daemon runs the fleet's app, as `pm2 start` by that user would leave it.
DEMO_USER = "app"
# As SSM would: the allowedPattern of the very document that is deployed (moto enforces none).
_PARAMETERS = restart_document_content()["parameters"]
PATTERNS = {name: re.compile(spec["allowedPattern"]) for name, spec in _PARAMETERS.items()}
DEFAULTS = {name: spec["default"] for name, spec in _PARAMETERS.items() if "default" in spec}
SERVICE_PATTERN = PATTERNS["service"]
MANAGER_PATTERN = PATTERNS["manager"]
MANAGERS = {
    # What the document runs on the host for each manager.
    "pm2": "pm2 restart {service}",
    "systemd": "systemctl restart -- {service}",
    "docker": "docker restart -- {service}",
}


class LogEntry(NamedTuple):
    """One thing the agent did: a tuple, so the demo can print it as it likes."""

    time: float
    instance: str
    command_id: str
    action: str
    result: str
    user: str = ""  # whose manager it ran as ("" for root)


class InvalidParameters(ValueError):
    """Restart parameters the real document's allowedPattern would reject."""


@dataclass
class Host:
    """What one instance runs, as the restart document sees it.

    ``pm2`` maps each user to the processes that user's PM2 daemon manages (PM2 keeps one
    daemon per user, under ``~/.pm2``); ``user_units`` likewise for ``systemctl --user``.
    """

    users: frozenset[str] = frozenset({"root", "ec2-user", DEMO_USER})
    pm2: Mapping[str, frozenset[str]] = field(default_factory=lambda: {DEMO_USER: frozenset({"web"})})
    units: frozenset[str] = frozenset()
    user_units: Mapping[str, frozenset[str]] = field(default_factory=dict)
    containers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Outcome:
    """What the document's script did: the command it reached, its exit code and last line."""

    action: str
    exit_code: int
    message: str
    user: str = ""

    @property
    def restarts(self) -> bool:
        return self.exit_code == 0


def restart_action(parameters: dict[str, list[str]]) -> str:
    """The command a real agent would run, e.g. ``pm2 restart web``.

    Raises InvalidParameters when ``service`` or ``manager`` is missing, has more
    than one value, or does not match its pattern: nothing unchecked is "run".
    """
    service, manager, _ = checked_parameters(parameters)
    return MANAGERS[manager].format(service=service)


def checked_parameters(parameters: dict[str, list[str]]) -> tuple[str, str, str]:
    """(service, manager, user) as SSM accepts them, or InvalidParameters (nothing runs)."""
    unknown = sorted(set(parameters) - set(PATTERNS))
    if unknown:
        raise InvalidParameters(f"unknown parameter {unknown[0]!r}")
    values = {name: _single(parameters, name) for name in PATTERNS}
    for name, value in values.items():
        if not PATTERNS[name].fullmatch(value):
            raise InvalidParameters(f"{name} {value!r} does not match {PATTERNS[name].pattern}")
    if values["manager"] not in MANAGERS:
        raise InvalidParameters(f"manager {values['manager']!r} is not one of {', '.join(MANAGERS)}")
    return values["service"], values["manager"], values["user"]


def run_restart(parameters: dict[str, list[str]], host: Host) -> Outcome:
    """Follow the deployed document's script on ``host``; InvalidParameters if SSM would refuse."""
    service, manager, user = checked_parameters(parameters)
    action = MANAGERS[manager].format(service=service)
    if manager == "systemd" and user:
        action = f"systemctl --user restart -- {service}"
    if manager == "pm2" and not user:
        return Outcome(action, 2, "pm2 needs a user: PM2 keeps one daemon per user")
    if manager == "docker" and user:
        return Outcome(action, 2, "docker takes no user")
    if user and user not in host.users:
        return Outcome(action, 2, f"no such user: {user}", user)
    if manager == "pm2":
        if service not in host.pm2.get(user, frozenset()):
            return Outcome(action, 1, f"[PM2][ERROR] Process or Namespace {service} not found", user)
        return Outcome(action, 0, f"[PM2] Applying action restartProcessId on app [{service}]", user)
    if manager == "systemd":
        units = host.user_units.get(user, frozenset()) if user else host.units
        if service not in units:
            return Outcome(
                action, 5, f"Failed to restart {service}.service: Unit {service}.service not found.", user
            )
        return Outcome(action, 0, "", user)
    if service not in host.containers:
        return Outcome(action, 1, f"Error response from daemon: No such container: {service}")
    return Outcome(action, 0, service)


def _single(parameters: dict[str, list[str]], key: str) -> str:
    # SSM parameters always arrive as lists of strings; an absent optional one takes its default.
    if key not in parameters and key in DEFAULTS:
        return str(DEFAULTS[key])
    values = parameters.get(key)
    if not isinstance(values, list) or len(values) != 1 or not isinstance(values[0], str):
        raise InvalidParameters(f"parameter {key!r} must be exactly one string")
    return values[0]


class SsmAgent:
    """Polls moto for commands and runs restarts on the local fleet.

    ``instance_ids`` maps fleet names to EC2 ids (as ``Fleet.register_instances``
    returns); every instance runs what ``host`` says (default: the app under the demo
    user's PM2 daemon). Commands are handled once each, including ones sent before ``start``
    unless ``skip_existing`` (a moto shared with earlier runs keeps their commands).
    """

    def __init__(
        self,
        ssm_client: Any,
        fleet: Fleet,
        instance_ids: dict[str, str],
        restart_document: str = RESTART_DOCUMENT,
        poll_interval: float = 0.3,
        skip_existing: bool = False,
        host: Host | None = None,
    ) -> None:
        self.ssm = ssm_client
        self.fleet = fleet
        self.host = host or Host()
        self.names_by_id = {iid: name for name, iid in instance_ids.items()}
        self.restart_document = restart_document
        self.poll_interval = poll_interval
        self.skip_existing = skip_existing
        self.log: list[LogEntry] = []
        self._handled: set[str] = set()
        self._stop = threading.Event()
        self._changed = threading.Condition()  # wait_for wakes when log grows
        self._thread: threading.Thread | None = None

    def start(self) -> SsmAgent:
        if self._thread is None or not self._thread.is_alive():
            if self.skip_existing:
                self._handled.update(c["CommandId"] for c in self._list_commands())
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="ssm-agent", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop polling; waits for a restart in progress (bounded by ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> SsmAgent:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_for(self, command_id: str, timeout: float = 15.0) -> list[LogEntry]:
        """Block until ``command_id`` was handled; return its log entries.

        Returns ``[]`` on timeout, or when the command targets none of our instances.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while command_id not in self._handled and time.monotonic() < deadline:
                self._changed.wait(max(0.0, deadline - time.monotonic()))
            return [entry for entry in self.log if entry.command_id == command_id]

    def poll_once(self) -> int:
        """Handle every command not seen yet; return how many were new."""
        new = 0
        for command in self._list_commands():
            if command["CommandId"] in self._handled:
                continue
            self._handle(command)
            new += 1
        return new

    # -- internals -------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # moto restarting or a transient error: keep polling
                logger.exception("ssm agent poll failed")
            self._stop.wait(self.poll_interval)

    def _list_commands(self) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        while True:
            page = self.ssm.list_commands(**kwargs)
            yield from page.get("Commands", [])
            if not page.get("NextToken"):
                return
            kwargs["NextToken"] = page["NextToken"]

    def _handle(self, command: dict[str, Any]) -> None:
        for instance_id in command.get("InstanceIds", []):
            name = self.names_by_id.get(instance_id)
            if name is not None:
                self._run_on(name, command)
        with self._changed:  # marked last, so wait_for sees the complete log
            self._handled.add(command["CommandId"])
            self._changed.notify_all()

    def _run_on(self, name: str, command: dict[str, Any]) -> None:
        document = command.get("DocumentName", "")
        if document != self.restart_document:
            self._record(name, command, f"document {document}", "ran")
            return
        try:
            outcome = run_restart(command.get("Parameters", {}), self.host)
        except InvalidParameters as err:
            self._record(name, command, "restart", f"rejected: {err}")
            return
        if not outcome.restarts:
            result = f"exit {outcome.exit_code}: {outcome.message}"
        else:
            result = "ok" if self.fleet.restart(name) else "unhealthy after restart"
        self._record(name, command, outcome.action, result, outcome.user)

    def _record(self, name: str, command: dict[str, Any], action: str, result: str, user: str = "") -> None:
        entry = LogEntry(time.time(), name, command["CommandId"], action, result, user)
        logger.info("ssm agent: %s %s: %s -> %s", name, entry.command_id, action, result)
        with self._changed:
            self.log.append(entry)
            self._changed.notify_all()
