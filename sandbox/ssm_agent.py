"""The sandbox's SSM agent: runs the commands moto only records, on the fleet's hosts, for real.

moto stores ``send_command`` calls but runs nothing. This agent polls moto, and for each new
command on one of its instances fetches the document as it is deployed (``GetDocument``) and
does what SSM's agent does with it (sandbox.run_shell_script): parameters checked against the
document's ``allowedValues``/``allowedPattern`` before anything runs, each ``runCommand`` script
run by ``sh`` as root with the parameters as ``SSM_<name>``, ``timeoutSeconds`` enforced. It runs
on the instance's host (sandbox.hosts): that host's app user, with that host's own PM2 daemon.
The outcome (status, exit code, stdout and stderr) is reported to moto (sandbox.ssm_invocations),
so ``GetCommandInvocation`` answers what happened; a command sent with ``OutputS3BucketName`` also
has its whole output written there, as SSM writes it: ``<prefix>/<command id>/<instance id>/``
``awsrunShellScript/<step>/stdout`` (and ``stderr``). AWS-owned documents (``AWS-RunShellScript``
and the like) are not run on this machine: their invocations fail, saying so.

Usage::

    from sandbox.ssm_agent import SsmAgent

    agent = SsmAgent(boto3.client("ssm"), fleet, fleet.register_instances(ec2)).start()
    command_id = ssm.send_command(
        DocumentName="autoheal-local-restart",
        InstanceIds=[ids["blue-1"]],
        Parameters={"service": ["web"], "manager": ["pm2"], "user": ["app"]},
    )["Command"]["CommandId"]
    agent.wait_for(command_id)      # [LogEntry(..., action="pm2 restart web", result="ok")]
    agent.stop()
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import boto3

from sandbox import ssm_invocations
from sandbox.fleet import Fleet
from sandbox.run_shell_script import Result, run_document
from sandbox.ssm_invocations import Report

logger = logging.getLogger(__name__)

RESTART_DOCUMENT = "autoheal-restart"
DEMO_USER = "app"  # the user whose PM2 daemon runs the fleet's app (sandbox.hosts.APP_USER)


class LogEntry(NamedTuple):
    """One thing the agent did: a tuple, so the demo can print it as it likes."""

    time: float
    instance: str
    command_id: str
    action: str
    result: str
    user: str = ""  # whose manager it ran as ("" for root)
    output: str = ""  # stdout then stderr, as GetCommandInvocation returns them


def describe(document: str, parameters: dict[str, list[str]]) -> str:
    """A line for people: ``pm2 restart web`` for a restart, else the document and parameters."""
    values = {key: value[0] if isinstance(value, list) and value else "" for key, value in parameters.items()}
    if {"manager", "service"} <= set(values):
        return f"{values['manager']} restart {values['service']}"
    return " ".join([document, *(f"{key}={value}" for key, value in sorted(values.items()))])


def summary(result: Result) -> str:
    if result.status == "Success":
        return "ok"
    if result.details == "InvalidParameters":
        return f"rejected: {result.stderr}"
    if result.status == "TimedOut":
        return "timed out"
    return f"exit {result.code}: {result.last_line}"


class SsmAgent:
    """Polls moto for commands and runs them on the fleet's hosts: one at a time per instance, as
    each instance's agent does, and instances in parallel (a long script on one delays no other).

    ``instance_ids`` maps fleet names to EC2 ids (as ``Fleet.register_instances`` returns).
    Commands are handled once each, including ones sent before ``start`` unless
    ``skip_existing`` (a moto shared with earlier runs keeps their commands).
    """

    def __init__(
        self,
        ssm_client: Any,
        fleet: Fleet,
        instance_ids: dict[str, str],
        restart_document: str = RESTART_DOCUMENT,  # kept for callers; every document is run
        poll_interval: float = 0.3,
        skip_existing: bool = False,
    ) -> None:
        self.ssm = ssm_client
        self.fleet = fleet
        self.endpoint = str(ssm_client.meta.endpoint_url).rstrip("/")
        self.names_by_id = {iid: name for name, iid in instance_ids.items()}
        self.restart_document = restart_document
        self.poll_interval = poll_interval
        self.skip_existing = skip_existing
        self.log: list[LogEntry] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="autoheal-ssm-agent-"))
        self._seen: set[str] = set()  # dispatched to the instances' workers
        self._handled: set[str] = set()  # done on every instance of ours
        self._workers: dict[str, ThreadPoolExecutor] = {}
        self._stop = threading.Event()
        self._changed = threading.Condition()  # wait_for wakes when log grows
        self._thread: threading.Thread | None = None

    def start(self) -> SsmAgent:
        if self._thread is None or not self._thread.is_alive():
            ssm_invocations.claim(self.endpoint, self.names_by_id)
            if self.skip_existing:
                existing = {c["CommandId"] for c in self._list_commands()}
                self._seen.update(existing)
                self._handled.update(existing)
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="ssm-agent", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop polling; waits for commands in progress (each bounded by its document's timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for worker in self._workers.values():
            worker.shutdown(wait=True, cancel_futures=True)
        self._workers.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

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
        """Dispatch every command not seen yet to its instances; return how many were new."""
        new = 0
        for command in self._list_commands():
            if command["CommandId"] in self._seen:
                continue
            self._seen.add(command["CommandId"])
            self._dispatch(command)
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

    def _dispatch(self, command: dict[str, Any]) -> None:
        ours = [(self.names_by_id[i], i) for i in command.get("InstanceIds", []) if i in self.names_by_id]
        remaining = [len(ours)]
        if not ours:
            self._mark_handled(command["CommandId"])
        for name, instance_id in ours:
            worker = self._workers.get(name)
            if worker is None:
                worker = self._workers[name] = ThreadPoolExecutor(1, thread_name_prefix=f"ssm-agent-{name}")
            future = worker.submit(self._run_safely, name, instance_id, command)
            future.add_done_callback(lambda _, c=command: self._one_done(c["CommandId"], remaining))

    def _one_done(self, command_id: str, remaining: list[int]) -> None:
        with self._changed:
            remaining[0] -= 1
            if remaining[0] == 0:  # marked last, so wait_for sees the complete log
                self._mark_handled(command_id)

    def _mark_handled(self, command_id: str) -> None:
        with self._changed:
            self._handled.add(command_id)
            self._changed.notify_all()

    def _run_safely(self, name: str, instance_id: str, command: dict[str, Any]) -> None:
        try:
            self._run_on(name, instance_id, command)
        except Exception:  # moto gone or a host torn down: logged, and the command counts as done
            logger.exception("ssm agent: %s %s failed", name, command["CommandId"])

    def _run_on(self, name: str, instance_id: str, command: dict[str, Any]) -> None:
        command_id, document = command["CommandId"], command.get("DocumentName", "")
        parameters = command.get("Parameters") or {}
        self._report(command_id, instance_id, Result("InProgress", -1, "", ""))
        result = self._execute(name, command_id, document, parameters)
        self._report(command_id, instance_id, result)
        if command.get("OutputS3BucketName"):
            self._upload(command, instance_id, result)
        user = (parameters.get("user") or [""])[0]
        self._record(name, command_id, describe(document, parameters), summary(result), user, result)

    def _execute(self, name: str, command_id: str, document: str, parameters: dict[str, list[str]]) -> Result:
        if document.startswith("AWS-"):
            return Result("Failed", 1, "", f"{document}: AWS-owned documents are not run on this machine")
        host = self.fleet.instance(name).host
        if host is None:
            return Result("Failed", 1, "", f"{name} has no host to run on (the fleet runs without pm2)")
        found = self.ssm.get_document(Name=document, DocumentFormat="JSON")
        content = json.loads(found["Content"])
        workdir = self.workdir / name / "document" / "orchestration" / command_id
        return run_document(content, parameters, workdir, wrap=host.command, path=host.path())

    def _report(self, command_id: str, instance_id: str, result: Result) -> None:
        outcome = Report(
            command_id, instance_id, result.status, result.code, result.stdout, result.stderr, result.details
        )
        ssm_invocations.report(self.endpoint, outcome)

    def _upload(self, command: dict[str, Any], instance_id: str, result: Result) -> None:
        """The whole output to S3 (SSM's own copy; GetCommandInvocation keeps 24,000 characters)."""
        s3 = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=self.ssm.meta.region_name,
        ).client("s3", endpoint_url=self.endpoint)
        parts = [
            command.get("OutputS3KeyPrefix") or "",
            command["CommandId"],
            instance_id,
            "awsrunShellScript",
        ]
        base = "/".join(part.strip("/") for part in parts if part) + f"/{result.step or 'run'}"
        for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            if text:  # no object for an empty stream
                s3.put_object(
                    Bucket=command["OutputS3BucketName"], Key=f"{base}/{stream}", Body=text.encode()
                )

    def _record(self, name: str, command_id: str, action: str, result: str, user: str, run: Result) -> None:
        entry = LogEntry(time.time(), name, command_id, action, result, user, run.stdout + run.stderr)
        logger.info("ssm agent: %s %s: %s -> %s", name, command_id, action, result)
        with self._changed:
            self.log.append(entry)
            self._changed.notify_all()
