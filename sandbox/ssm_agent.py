"""A stand-in SSM agent: runs the restart commands that moto only records.

moto stores ``send_command`` calls (``list_commands`` returns them with their
``InstanceIds`` and ``Parameters``) but runs nothing. This agent polls moto, and for
each new command on one of its instances that uses the restart document, validates
the parameters as the real document's ``allowedPattern`` would and restarts the local
fleet process. Other documents are recorded as "ran" and do nothing.

Usage::

    from sandbox.ssm_agent import SsmAgent

    agent = SsmAgent(boto3.client("ssm"), fleet, fleet.register_instances(ec2))
    agent.start()
    command_id = ssm.send_command(
        DocumentName="autoheal-restart",
        InstanceIds=[ids["blue-1"]],
        Parameters={"service": ["web"], "manager": ["pm2"]},
    )["Command"]["CommandId"]
    agent.wait_for(command_id)      # [LogEntry(..., action="pm2 restart web", result="ok")]
    agent.stop()
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

from sandbox.fleet import Fleet
from sandbox.provision import restart_document_content

logger = logging.getLogger(__name__)

RESTART_DOCUMENT = "autoheal-restart"
# As SSM would: the allowedPattern of the very document that is deployed (moto enforces none).
_PARAMETERS = restart_document_content()["parameters"]
SERVICE_PATTERN = re.compile(_PARAMETERS["service"]["allowedPattern"])
MANAGER_PATTERN = re.compile(_PARAMETERS["manager"]["allowedPattern"])
MANAGERS = {
    # What a real agent would run on the host for each manager.
    "pm2": "pm2 restart {service}",
    "systemd": "systemctl restart {service}",
    "docker": "docker restart {service}",
}


class LogEntry(NamedTuple):
    """One thing the agent did: a tuple, so the demo can print it as it likes."""

    time: float
    instance: str
    command_id: str
    action: str
    result: str


class InvalidParameters(ValueError):
    """Restart parameters the real document's allowedPattern would reject."""


def restart_action(parameters: dict[str, list[str]]) -> str:
    """The command a real agent would run, e.g. ``pm2 restart web``.

    Raises InvalidParameters when ``service`` or ``manager`` is missing, has more
    than one value, or does not match its pattern: nothing unchecked is "run".
    """
    service = _single(parameters, "service")
    manager = _single(parameters, "manager")
    if not SERVICE_PATTERN.fullmatch(service):
        raise InvalidParameters(f"service {service!r} does not match {SERVICE_PATTERN.pattern}")
    if not MANAGER_PATTERN.fullmatch(manager) or manager not in MANAGERS:
        raise InvalidParameters(f"manager {manager!r} is not one of {', '.join(MANAGERS)}")
    return MANAGERS[manager].format(service=service)


def _single(parameters: dict[str, list[str]], key: str) -> str:
    # SSM parameters always arrive as lists of strings.
    values = parameters.get(key)
    if not isinstance(values, list) or len(values) != 1 or not isinstance(values[0], str):
        raise InvalidParameters(f"parameter {key!r} must be exactly one string")
    return values[0]


class SsmAgent:
    """Polls moto for commands and runs restarts on the local fleet.

    ``instance_ids`` maps fleet names to EC2 ids (as ``Fleet.register_instances``
    returns). Commands are handled once each, including ones sent before ``start``
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
    ) -> None:
        self.ssm = ssm_client
        self.fleet = fleet
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
            action = restart_action(command.get("Parameters", {}))
        except InvalidParameters as err:
            self._record(name, command, "restart", f"rejected: {err}")
            return
        healthy = self.fleet.restart(name)
        self._record(name, command, action, "ok" if healthy else "unhealthy after restart")

    def _record(self, name: str, command: dict[str, Any], action: str, result: str) -> None:
        entry = LogEntry(time.time(), name, command["CommandId"], action, result)
        logger.info("ssm agent: %s %s: %s -> %s", name, entry.command_id, action, result)
        with self._changed:
            self.log.append(entry)
            self._changed.notify_all()
