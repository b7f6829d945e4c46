"""The step loop: runs a runbook's steps for an incident, one wave of targets at a time.

A verify that passes ends the run healed; one that fails moves on (to the same action on the next
wave of targets, or to the next, bigger hammer); `escalate` tells people and stops acting. Every
step is checkpointed in the incident, so a run cut short by the Lambda's deadline, or by the
Lambda dying, continues from the same place later and never repeats a side effect.

>>> engine = RunbookEngine(config, AwsActions(), probe.run, budget, leases, notify)  # doctest: +SKIP
>>> engine.start(incident, "restart-web", time.monotonic() + 240, scope=scope)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from aws_lambda_powertools import Logger

from chalicelib.config.model import Config, Monitor, Runbook
from chalicelib.maintenance.runbook import RunbookMaintenance, uses_maintenance
from chalicelib.probe.result import ProbeResult
from chalicelib.runbooks.actions import Actions
from chalicelib.runbooks.admission import Admission, BudgetLedger, LeaseHolder
from chalicelib.runbooks.incident import (
    ESCALATED,
    HEALED,
    HEARTBEAT_SECONDS,
    PAUSED,
    RESOLVED,
    RUNNING,
    STOPPED,
    Incident,
    RunPosition,
)
from chalicelib.runbooks.notifier import IncidentNotifier
from chalicelib.runbooks.scope import SignalScope, narrow, plan_waves
from chalicelib.runbooks.steps import HEALED as STEP_HEALED
from chalicelib.runbooks.steps import MOVED, PAUSE, REGISTRY, StepContext

logger = Logger(service="autoheal", child=True)

STEP_RESERVE = 5.0  # seconds kept before the Lambda's deadline to record where we are...
RESERVE_SHARE = 0.2  # ...or this share of a short invocation, whichever is less

Verifier = Callable[[Sequence[Monitor], float], list[ProbeResult]]
Checkpoint = Callable[[Incident], None]  # records the incident (and where its run is)


class LeaseLost(RuntimeError):
    """Another run took a target this run was acting on (its lease expired): stop acting."""


def no_checkpoint(incident: Incident) -> None:
    """For callers that keep the incident in memory only."""


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
        budget: BudgetLedger,
        leases: LeaseHolder,
        notify: Callable[..., Any],
        clock: Optional[Clock] = None,
        *,
        gather: Optional[Callable[[Incident], Any]] = None,
        maintenance: Optional[Callable[[], RunbookMaintenance]] = None,
        shifter: Optional[Callable[[Callable[..., Any]], Any]] = None,
    ) -> None:
        """`gather` folds the signals waiting beside an incident into it before a notice is
        shaped; `maintenance()` is the maintenance switch and `shifter(notify)` a deployment
        Shifter, for the runbooks that use them (built when first asked)."""
        self.config = config
        self.actions = actions
        self.verifier = verifier
        self.clock = clock or Clock()
        self.admission = Admission(budget, leases)
        settings = config.settings
        self.notifier = IncidentNotifier(
            notify, self.clock.now, settings.group_wait, settings.notify, gather=gather
        )
        self.maintenance = maintenance
        self.shifter = shifter

    def maintenance_switch(self) -> RunbookMaintenance:
        if self.maintenance is None:
            raise RuntimeError("no maintenance switch was given to this engine")
        return self.maintenance()

    def deployment_shifter(self) -> Any:
        """A Shifter that tells people through this engine's channels."""
        if self.shifter is None:
            raise RuntimeError("no deployment shifter was given to this engine")
        return self.shifter(self.notifier.sender)

    # -- starting: scope, leases, budget -------------------------------------------------------
    def start(
        self,
        incident: Incident,
        runbook_name: str,
        deadline: float,
        checkpoint: Checkpoint = no_checkpoint,
        scope: Optional[SignalScope] = None,
        scheduled: bool = False,
    ) -> None:
        """Start a run. AWS look-ups that fail raise (nothing was done: the caller may retry).
        A `scheduled` run acts on every target, one wave at a time (see RunPosition.scheduled)."""
        runbook = self.config.runbooks[runbook_name]
        tier = self.actions.resolve(runbook.targets)
        targets = self.targets_in_scope(incident, runbook_name, tier, scope or SignalScope())
        if not targets:
            return
        now = self.clock.now()
        owner = f"{incident.key}@{now:.3f}"
        admitted = self.admission.admit(
            runbook_name, targets, owner, now, runbook.budget.max_runs, runbook.budget.per
        )
        if admitted.busy:
            incident.tell(now, f"{admitted.busy}: another runbook is acting on it; left alone")
        for target, runs in admitted.refused.items():
            incident.tell(now, f"{target}: budget of {runbook_name} used up ({runs} runs); not acting")
        if admitted.exhausted:
            self.notifier.send(
                incident,
                "budget_exhausted",
                f"{incident.label}: {runbook_name} budget exhausted on {', '.join(admitted.exhausted)}; "
                "autoheal stops acting there until the window frees",
            )
        if not admitted.allowed:
            incident.run = RunPosition(runbook_name, [], state=STOPPED, scheduled=scheduled)
            return
        waves = plan_waves(admitted.allowed, runbook.max_concurrent, runbook.max_share, len(tier))
        incident.run = RunPosition(
            runbook_name,
            admitted.allowed,
            lease_owner=owner,
            heartbeat=now,
            waves=waves,
            scheduled=scheduled,
            admitted_at=now,
        )
        if len(waves) > 1:
            incident.tell(now, f"acting on {len(admitted.allowed)} targets in {len(waves)} waves")
        if runbook.maintenance_page:
            self.maintenance_on(incident)
        self.resume(incident, deadline, checkpoint)

    def targets_in_scope(
        self, incident: Incident, runbook_name: str, tier: list[str], scope: SignalScope
    ) -> list[str]:
        """The tier, narrowed to what the signal names; never anything outside the tier."""
        if not tier:
            self.escalate(incident, f"{runbook_name}: no targets found; nothing was done")
            return []
        if not scope.is_narrow:
            return tier
        if scope.problem:
            self.escalate(incident, f"{scope.problem}; nothing was done")
            return []
        inside, outside = narrow(tier, self.actions.named(scope))
        if outside:
            incident.tell(
                self.clock.now(),
                f"the alarm names {', '.join(outside)}, outside the targets of {runbook_name}: left alone",
            )
        if not inside:
            self.escalate(
                incident, f"{scope.describe()} is not among the targets of {runbook_name}; nothing was done"
            )
        return inside

    # -- running: one step after another, until healed, escalated or out of time --------------
    def resume(self, incident: Incident, deadline: float, checkpoint: Checkpoint = no_checkpoint) -> None:
        """Run steps from where the incident's run is; `checkpoint` records progress, so a run cut
        short continues from there and other invocations see it is in flight."""
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
            run.state = RUNNING
            step = runbook.steps[run.step]
            try:
                self.heartbeat(incident, checkpoint, force=True)
                context = StepContext(self, incident, run.wave_targets, deadline, checkpoint)
                outcome = REGISTRY[step.action]().execute(context, step.params)
            except Exception as exc:  # noqa: BLE001 - a failed step is reported, never retried blindly
                self.escalate(incident, f"step {run.step + 1} ({step.action}) failed: {error_text(exc)}")
                return
            if outcome == PAUSE:
                self.pause(incident)
                return
            if outcome in (HEALED, ESCALATED):
                return
            if outcome != MOVED:
                self.next_step(run, runbook)
        self.escalate(incident, f"{run.runbook} ran every step without a verified recovery")

    @staticmethod
    def next_step(run: RunPosition, runbook: Runbook) -> None:
        """After a step said NEXT: an action rolls over the waves, each followed by its verify; a
        failed verify goes back to the action for the next wave, then on once every wave had it."""
        steps, i = runbook.steps, run.step
        more_waves = run.wave + 1 < len(run.waves)
        acts = REGISTRY[steps[i].action].acts_on_targets
        followed_by_verify = i + 1 < len(steps) and steps[i + 1].action == "verify"
        if acts and not followed_by_verify and more_waves:
            run.move_to(i, run.wave + 1)
        elif acts:
            run.move_to(i + 1, run.wave)
        elif (
            steps[i].action == "verify"
            and i > 0
            and REGISTRY[steps[i - 1].action].acts_on_targets
            and more_waves
        ):
            run.move_to(i - 1, run.wave + 1)
        else:
            run.move_to(i + 1, 0)

    def heartbeat(self, incident: Incident, checkpoint: Checkpoint, force: bool = False) -> None:
        """Renew the run's leases and checkpoint, at most every HEARTBEAT_SECONDS unless forced."""
        run, now = incident.run, self.clock.now()
        if not force and now - run.heartbeat < HEARTBEAT_SECONDS:
            return
        lost = self.admission.renew(run.targets, run.lease_owner, now)
        if lost:
            raise LeaseLost(f"{lost} is no longer held by this run")
        run.heartbeat = now
        checkpoint(incident)

    def working_deadline(self, deadline: float) -> float:
        """The Lambda's deadline less the time kept to record where the run is."""
        left = max(0.0, deadline - self.clock.monotonic())
        return deadline - min(STEP_RESERVE, RESERVE_SHARE * left)

    def pause(self, incident: Incident) -> None:
        incident.run.state = PAUSED
        incident.tell(self.clock.now(), "out of time in this invocation; continues on the next tick")

    def verified(self, incident: Incident, line: str) -> str:
        """A verify passed: the run is healed, or, for a scheduled run with waves left, goes back
        to the action before this verify for the next wave."""
        run = incident.run
        action = self.action_before(run)
        if run.scheduled and action is not None and run.wave + 1 < len(run.waves):
            incident.tell(self.clock.now(), f"{line}; on to wave {run.wave + 2} of {len(run.waves)}")
            run.move_to(action, run.wave + 1)
            return MOVED
        self.heal(incident, line)
        return STEP_HEALED

    def action_before(self, run: RunPosition) -> Optional[int]:
        """The index of the nearest step before the current one that acts on targets."""
        steps = self.config.runbooks[run.runbook].steps
        acting = [i for i in range(run.step) if REGISTRY[steps[i].action].acts_on_targets]
        return acting[-1] if acting else None

    # -- endings -------------------------------------------------------------------------------
    def heal(self, incident: Incident, line: str) -> None:
        now = self.clock.now()
        incident.tell(now, line)
        self.finish(incident, HEALED)
        resolve(incident, now)
        self.notifier.send(
            incident,
            "recovered",
            f"{incident.label} recovered",
            downtime_s=now - incident.opened_at,
            tell=False,
        )

    def escalate(self, incident: Incident, why: str) -> None:
        self.finish(incident, ESCALATED)
        incident.escalated_at = self.clock.now()
        self.notifier.send(incident, "escalated", f"{incident.label}: {why}")
        if incident.run.scheduled:  # no signal will ever clear it: telling people ends it
            resolve(incident, incident.escalated_at)

    def finish(self, incident: Incident, state: str) -> None:
        run = incident.run
        if run is None:
            incident.run = RunPosition("", [], state=state)
            return
        run.state = state
        self.admission.release(run.targets, run.lease_owner)
        if state != ESCALATED and uses_maintenance(self.config.runbooks.get(run.runbook)):
            self.maintenance_off(incident)

    # -- the maintenance page, for runbooks that use it ------------------------------------------
    def maintenance_on(self, incident: Incident) -> None:
        """A failure is told and the run goes on: healing matters more than the page."""
        try:
            incident.tell(self.clock.now(), self.maintenance_switch().on(incident))
        except Exception as exc:  # noqa: BLE001
            incident.tell(self.clock.now(), f"maintenance page not switched on: {error_text(exc)}")

    def maintenance_off(self, incident: Incident) -> None:
        try:
            said = self.maintenance_switch().off(incident)
        except Exception as exc:  # noqa: BLE001 - it ends at its expiry anyway
            said = f"maintenance page not switched off ({error_text(exc)}); it ends at its expiry"
        if said:
            incident.tell(self.clock.now(), said)


def resolve(incident: Incident, now: float) -> None:
    incident.status = RESOLVED
    incident.resolved_at = now


def error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
