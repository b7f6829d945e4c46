"""Runs a runbook's steps for an incident: act, verify, escalate; pause before the deadline.

A verify that passes ends the runbook healed; one that fails moves on to the next step (a
bigger hammer); `escalate` tells people and stops acting. Every step is recorded in the
incident, so a run cut short by the Lambda's deadline continues from the same place later.

>>> engine = RunbookEngine(config, AwsActions(), probe.run, budget, leases, notify)  # doctest: +SKIP
>>> engine.start(incident, "restart-web", deadline=time.monotonic() + 240)            # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable, Mapping, Optional, Protocol, Sequence

from aws_lambda_powertools import Logger

from chalicelib.config.model import Config, Monitor
from chalicelib.notify.notice import Notice
from chalicelib.probe.result import ProbeResult
from chalicelib.runbooks.actions import Actions, UnsafeParameter, restart_parameters
from chalicelib.runbooks.budget import Decision
from chalicelib.runbooks.incident import (
    ESCALATED,
    HEALED,
    PAUSED,
    RESOLVED,
    RUNNING,
    STOPPED,
    Incident,
    RunPosition,
)

logger = Logger(service="autoheal", child=True)

NEXT, PAUSE = "next", "pause"
STEP_RESERVE = 5.0  # seconds kept before the Lambda's deadline to record where we are...
RESERVE_SHARE = 0.2  # ...or this share of a short invocation, whichever is less
COMMAND_WAIT = 60.0  # how long a restart waits for the agent's answer before verify takes over
VERIFY_INTERVAL = 2.0
LEASE_TTL = 1800.0

Verifier = Callable[[Sequence[Monitor], float], list[ProbeResult]]
Checkpoint = Callable[[Incident], None]  # records the incident (and where its run is)


def no_checkpoint(incident: Incident) -> None:
    """For callers that keep the incident in memory only."""


class Budget(Protocol):
    def spend(self, runbook: str, target: str, now: float, max_runs: int, per: float) -> Decision: ...


class LeaseHolder(Protocol):
    def acquire(self, target: str, owner: str, now: float, ttl: float) -> bool: ...
    def release(self, target: str, owner: str) -> None: ...


@dataclass
class Clock:
    now: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


class RunbookEngine:
    def __init__(
        self,
        config: Config,
        actions: Actions,
        verifier: Verifier,
        budget: Budget,
        leases: LeaseHolder,
        notify: Callable[[Notice], object],
        clock: Optional[Clock] = None,
    ) -> None:
        self.config = config
        self.actions = actions
        self.verifier = verifier
        self.budget = budget
        self.leases = leases
        self.notify = notify
        self.clock = clock or Clock()

    # -- starting: targets, leases, budget ---------------------------------------------------
    def start(
        self, incident: Incident, runbook_name: str, deadline: float, checkpoint: Checkpoint = no_checkpoint
    ) -> None:
        runbook = self.config.runbooks[runbook_name]
        now = self.clock.now()
        try:
            targets = self.actions.resolve(runbook.targets)
        except Exception as exc:  # noqa: BLE001 - botocore retried; what is left is for people
            self.escalate(incident, f"could not find the targets of {runbook_name}: {error_text(exc)}")
            return
        if not targets:
            self.escalate(incident, f"{runbook_name}: no targets found; nothing was done")
            return
        owner = f"{incident.key}@{now:.3f}"
        allowed = self.admit(incident, runbook_name, targets, owner, now)
        if not allowed:
            incident.run = RunPosition(runbook_name, [], state=STOPPED)
            return
        incident.run = RunPosition(runbook_name, allowed, lease_owner=owner, heartbeat=now)
        self.resume(incident, deadline, checkpoint)

    def admit(
        self, incident: Incident, runbook_name: str, targets: list[str], owner: str, now: float
    ) -> list[str]:
        """The targets this run may act on: leased by us, and within the runbook's budget."""
        runbook = self.config.runbooks[runbook_name]
        busy = self.lease_all(sorted(targets), owner, now)
        if busy:
            incident.tell(now, f"{busy}: another runbook is acting on it; left alone")
            return []
        allowed, exhausted = [], []
        for target in targets:
            decision = self.budget.spend(
                runbook_name, target, now, runbook.budget.max_runs, runbook.budget.per
            )
            if decision.allowed:
                allowed.append(target)
                continue
            self.leases.release(target, owner)
            incident.tell(
                now,
                f"{target}: budget of {runbook_name} used up ({decision.runs_in_window} runs); not acting",
            )
            if decision.escalate:
                exhausted.append(target)
        if exhausted:
            self.send(
                incident,
                "budget_exhausted",
                f"{incident.key}: {runbook_name} budget exhausted on {', '.join(exhausted)}; autoheal stops "
                f"acting there until the window frees",
            )
        return allowed

    def lease_all(self, targets: list[str], owner: str, now: float) -> Optional[str]:
        """All or none, in sorted order, so two runs never each hold half of one set. Returns the
        first target someone else holds, having let go of what this run took."""
        taken: list[str] = []
        for target in targets:
            if not self.leases.acquire(target, owner, now, LEASE_TTL):
                for held in taken:
                    self.leases.release(held, owner)
                return target
            taken.append(target)
        return None

    # -- running: one step after another, until healed, escalated or out of time --------------
    def resume(self, incident: Incident, deadline: float, checkpoint: Checkpoint = no_checkpoint) -> None:
        """Run steps from where the incident's run is; `checkpoint` records progress after each,
        so a run cut short continues from there and other invocations see it is in flight."""
        deadline = self.working_deadline(deadline)
        run = incident.run
        runbook = self.config.runbooks.get(run.runbook) if run else None
        if run is None or runbook is None:
            self.escalate(incident, "the runbook is no longer in the config; stopped")
            return
        while run.step < len(runbook.steps):
            if self.clock.monotonic() > deadline:
                self.pause(incident)
                return
            run.state, run.heartbeat = RUNNING, self.clock.now()
            checkpoint(incident)
            step = runbook.steps[run.step]
            try:
                outcome = STEP_HANDLERS[step.action](self, incident, step.params, deadline)
            except Exception as exc:  # noqa: BLE001 - a failed step is reported, never retried blindly
                self.escalate(incident, f"step {run.step + 1} ({step.action}) failed: {error_text(exc)}")
                return
            if outcome == PAUSE:
                self.pause(incident)
                return
            if outcome in (HEALED, ESCALATED):
                return
            run.step, run.step_started_at, run.verify_streak = run.step + 1, None, 0
        self.escalate(incident, f"{run.runbook} ran every step without a verified recovery")

    def working_deadline(self, deadline: float) -> float:
        """The Lambda's deadline less the time kept to record where the run is."""
        left = max(0.0, deadline - self.clock.monotonic())
        return deadline - min(STEP_RESERVE, RESERVE_SHARE * left)

    def pause(self, incident: Incident) -> None:
        incident.run.state = PAUSED
        incident.tell(self.clock.now(), "out of time in this invocation; continues on the next tick")

    # -- steps ---------------------------------------------------------------------------------
    def do_restart(self, incident: Incident, params: Mapping, deadline: float) -> str:
        try:
            parameters = restart_parameters(params.get("service"), params.get("manager"))
        except UnsafeParameter as exc:
            self.escalate(incident, f"restart refused: {exc}")
            return ESCALATED
        document = self.config.settings.restart_document
        summary = f"restart {parameters['service'][0]} ({parameters['manager'][0]})"
        return self.send_and_wait(incident, document, parameters, summary, deadline)

    def do_run(self, incident: Incident, params: Mapping, deadline: float) -> str:
        return self.send_and_wait(
            incident, params["document"], params["parameters"], params["document"], deadline
        )

    def send_and_wait(
        self, incident: Incident, document: str, parameters: Mapping, summary: str, deadline: float
    ) -> str:
        run = incident.run
        command_id = self.actions.send(document, run.targets, parameters, f"autoheal {incident.key}")
        run.commands.append(command_id)
        self.send(
            incident,
            "action",
            f"{summary} sent to {', '.join(run.targets)} (command {command_id})",
            command_id=command_id,
        )
        until = min(deadline, self.clock.monotonic() + COMMAND_WAIT)
        results = self.actions.wait(command_id, run.targets, until)
        statuses = ", ".join(
            f"{r.instance_id} {r.status}" + (f" ({last_line(r.output)})" if r.output else "") for r in results
        )
        incident.tell(self.clock.now(), f"command {command_id}: {statuses}")
        return NEXT

    def do_reboot(self, incident: Incident, params: Mapping, deadline: float) -> str:
        self.actions.reboot(incident.run.targets)
        self.send(incident, "action", f"reboot of {', '.join(incident.run.targets)} requested")
        return NEXT

    def do_replace(self, incident: Incident, params: Mapping, deadline: float) -> str:
        self.actions.replace(incident.run.targets)
        self.send(incident, "action", f"{', '.join(incident.run.targets)} marked unhealthy for replacement")
        return NEXT

    def do_maintenance(self, incident: Incident, params: Mapping, deadline: float) -> str:
        incident.tell(
            self.clock.now(), "maintenance step skipped: maintenance mode is not part of this release"
        )
        return NEXT

    def do_escalate(self, incident: Incident, params: Mapping, deadline: float) -> str:
        self.escalate(incident, "the runbook did not bring it back; a person is needed")
        return ESCALATED

    def do_verify(self, incident: Incident, params: Mapping, deadline: float) -> str:
        run = incident.run
        monitors = [m for m in (self.config.monitor(n) for n in params["monitors"]) if m is not None]
        needed = max((m.success_threshold for m in monitors), default=1)
        cycle = max((m.timeout * m.attempts for m in monitors), default=1.0) + VERIFY_INTERVAL
        if run.step_started_at is None:
            run.step_started_at = self.clock.now()
        ends_at = run.step_started_at + params["within"]
        failing = "no check ran"
        while (now := self.clock.now()) < ends_at:
            run.heartbeat = now
            if self.clock.monotonic() + cycle > deadline:
                return PAUSE
            results = self.verifier(monitors, self.clock.monotonic() + cycle)
            bad = [r for r in results if not r.ok]
            run.verify_streak = 0 if bad else run.verify_streak + 1
            failing = "; ".join(f"{r.monitor}: {r.reason}" for r in bad) or failing
            if run.verify_streak >= needed:
                self.heal(incident, f"verified: {', '.join(params['monitors'])} healthy")
                return HEALED
            self.clock.sleep(VERIFY_INTERVAL)
        incident.tell(self.clock.now(), f"verify failed within {params['within']:g}s: {failing}")
        return NEXT

    # -- endings -------------------------------------------------------------------------------
    def heal(self, incident: Incident, line: str) -> None:
        now = self.clock.now()
        incident.tell(now, line)
        self.finish(incident, HEALED)
        resolve(incident, now)
        self.send(
            incident,
            "recovered",
            f"{incident.key} recovered",
            downtime_s=now - incident.opened_at,
            tell=False,
        )

    def escalate(self, incident: Incident, why: str) -> None:
        self.finish(incident, ESCALATED)
        self.send(incident, "escalated", f"{incident.key}: {why}")

    def finish(self, incident: Incident, state: str) -> None:
        run = incident.run
        if run is None:
            incident.run = RunPosition("", [], state=state)
            return
        run.state = state
        for target in run.targets:
            self.leases.release(target, run.lease_owner)

    def send(
        self,
        incident: Incident,
        kind: str,
        title: str,
        command_id: Optional[str] = None,
        downtime_s: Optional[float] = None,
        tell: bool = True,
    ) -> None:
        now = self.clock.now()
        if tell:
            incident.tell(now, title)
        incident.last_notified_at = now
        notice = Notice(
            kind=kind,
            incident=incident.key,
            title=title,
            lines=tuple(incident.story),
            command_id=command_id,
            downtime_s=downtime_s,
            at=datetime.fromtimestamp(now, UTC),
        )
        logger.info(f"notify {kind}: {title}", extra={"incident": incident.key, "notice": kind})
        self.notify(notice)


def resolve(incident: Incident, now: float) -> None:
    incident.status = RESOLVED
    incident.resolved_at = now


def last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1][:120] if lines else ""


def error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


STEP_HANDLERS: dict[str, Callable[[RunbookEngine, Incident, Mapping, float], str]] = {
    "restart": RunbookEngine.do_restart,
    "verify": RunbookEngine.do_verify,
    "reboot": RunbookEngine.do_reboot,
    "replace": RunbookEngine.do_replace,
    "run": RunbookEngine.do_run,
    "maintenance": RunbookEngine.do_maintenance,
    "escalate": RunbookEngine.do_escalate,
}
