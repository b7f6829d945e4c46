"""Moves a listener through a deployment's plan: start, tick, promote, abort, roll back.

Every listener change is one move:

1. write the intent (what is about to change, and who asked) to the state table;
2. ModifyListener with absolute weights (repeating it is harmless);
3. read the listener back; a mismatch stops the shift, rolls back and tells people;
4. write the result (and clear the intent), announce it.

A crash anywhere leaves either no intent (the record is true) or an intent that the next
`tick` reconciles from a read-back: finish it if it took effect, else redo it (a rollback) or
drop it and decide again (a step). So every deployment ends at 100% stable or 100% candidate.

>>> shifter.start(config.deployments["web"], StartOptions(), by="person")   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Optional, Sequence

from aws_lambda_powertools import Logger

from chalicelib.aws.elbv2 import Elbv2, Forward, ListenerError, forward_of, name_of_target_group
from chalicelib.aws.errors import describe_error, error_code
from chalicelib.config.model import Deployment
from chalicelib.deployments import strategies
from chalicelib.deployments.gates import GateChecker
from chalicelib.deployments.machine import PASS, Verdict, decide, hold_limit
from chalicelib.deployments.model import (
    ABORTED,
    PROMOTED,
    ROLLED_BACK,
    SHIFTING,
    Intent,
    Record,
)
from chalicelib.deployments.store import Conflict, DeploymentStore
from chalicelib.leases import Leases
from chalicelib.listeners.owner import HandChanged, ListenerMismatch, ListenerOwner, TargetGroupGone
from chalicelib.notify.notice import Notice

logger = Logger(service="autoheal", child=True)
LEASE_TTL = 900.0  # renewed by every `tick`; a holder that died frees the listener this soon
MAX_STICKY_WAIT = 7 * 24 * 3600.0  # ALB's longest stickiness duration
GOING_BACK = ("rollback", "abort")


class Refused(ValueError):
    """A request that cannot be carried out; nothing was changed. The message says why."""


@dataclass(frozen=True)
class StartOptions:
    strategy: Optional[str] = None
    steps: Optional[tuple[int, ...]] = None
    step_interval: Optional[float] = None
    to: Optional[str] = None


@dataclass
class ShiftHooks:
    """Callables run around a shift: probe(monitor names) -> failures, run(document, group arn)."""

    probe: Callable[[Sequence[str]], list[str]] = lambda names: []
    run: Callable[[str, Mapping[str, Sequence[str]], str], str] = lambda document, parameters, group_arn: ""


def lease_key(deployment: Deployment) -> str:
    return f"listener:{deployment.listener.load_balancer}:{deployment.listener.port}"


class Shifter:
    def __init__(
        self,
        table_name: str,
        elb: Elbv2,
        gates: GateChecker,
        notify: Callable[[Notice], Any],
        clock: Callable[[], float],
        hooks: Optional[ShiftHooks] = None,
        owner: Optional[ListenerOwner] = None,
        store: Optional[DeploymentStore] = None,
        leases: Optional[Leases] = None,
    ) -> None:
        """The stores are built from `table_name` when not handed in; the listener's owner
        follows this Shifter's clock when it is not."""
        self.table_name = table_name
        self.store = store or DeploymentStore(table_name)
        self.leases = leases or Leases(table_name)
        self.elb = elb
        self.gates = gates
        self.notify = notify
        self.clock = clock
        self.hooks = hooks or ShiftHooks()
        self.owner = owner or ListenerOwner(table_name, elb, notify, lambda: self.clock())

    # -- requests ---------------------------------------------------------------------------
    def status(self, deployment: Deployment) -> dict[str, Any]:
        record = self.store.get(deployment.name)
        if record is None:
            return self.idle_view(deployment)
        return self.view(record)

    def start(self, deployment: Deployment, options: StartOptions, by: str = "person") -> dict[str, Any]:
        now = self.clock()
        previous = self.store.get(deployment.name)
        if previous is not None and previous.state == SHIFTING:
            raise Refused(f"deployment {deployment.name!r} is shifting already ({progress(previous)})")
        owner = f"deployment:{deployment.name}"
        if not self.leases.acquire(lease_key(deployment), owner, now, LEASE_TTL):
            holder = self.lease_holder(lease_key(deployment))
            raise Refused(f"listener is being shifted by {holder}: one shift per listener at a time")
        try:
            record = self.new_record(deployment, options, previous, now)
            self.preflight(deployment, record, now)
            record = self.store.replace_finished(
                record.noting(now, "started", by, describe_start(record)), previous
            )
        except Conflict:
            # Another start of this deployment won the write: the lease (same owner) is its now.
            raise Refused(
                f"deployment {deployment.name!r} was started meanwhile by another request"
            ) from None
        except Exception:
            self.leases.release(lease_key(deployment), owner)
            raise
        if deployment.test_listener is not None:
            self.point_test_listener(deployment, record.candidate_arn)
        first = Intent("step", record.plan[0], by, "first step")
        return self.view(self.move(deployment, record, first, strict=False))  # takes the listener as found

    def promote(self, deployment: Deployment, by: str = "person") -> dict[str, Any]:
        record = self.in_flight(deployment)
        verdict = self.gates.check(deployment, record, self.clock(), compare=False)
        if verdict.outcome != "pass":
            raise Refused(f"promote refused: {verdict.reason}")
        return self.view(self.move(deployment, record, Intent("promote", 100, by, "promoted by hand")))

    def abort(self, deployment: Deployment, reason: str, by: str = "person") -> dict[str, Any]:
        """Back to stable at once, from any state with something in flight."""
        record = self.store.get(deployment.name)
        if record is None or record.state != SHIFTING and record.intent is None:
            return self.status(deployment)  # nothing under way: already at rest
        return self.view(self.move(deployment, record, Intent("abort", 0, by, reason or "aborted")))

    def rollback(
        self, deployment: Deployment, by: str, reason: str, since: Optional[float] = None
    ) -> Optional[dict[str, Any]]:
        """Roll back now if the deployment is shifting (an alarm or a DOWN monitor asked), and,
        with `since` (when the signal changed state), only a shift started by then."""
        record = self.store.get(deployment.name)
        if record is None or record.state != SHIFTING:
            return None
        if since is not None and since < record.started_at:
            return None  # a signal from before this shift judges an earlier one
        return self.view(self.move(deployment, record, Intent("rollback", 0, by, reason)))

    def tick(self, deployment: Deployment) -> Optional[dict[str, Any]]:
        """One tick: reconcile a change left under way, then move, hold, roll back or restore."""
        record = self.store.get(deployment.name)
        if record is None or not record.in_flight:
            return None
        now = self.clock()
        if record.intent is not None:
            record = self.reconcile(deployment, record)
            if record.intent is not None or not record.in_flight:
                return self.view(record)
        if record.state == SHIFTING and not self.renew(deployment, record, now):
            record = self.store.save(record.noting(now, "stopped", "lease", "the listener's lease was taken"))
            return self.view(self.store.save(replace(record, state=ABORTED)))
        verdict = PASS
        if record.state == SHIFTING:
            due = record.next_move_at is None or now >= record.next_move_at
            try:
                verdict = self.gates.check(deployment, record, now, compare=due)
            except Exception as exc:
                if error_code(exc) != "TargetGroupNotFound":
                    raise
                return self.view(self.broken(deployment, record, describe_error(exc)))
        decision = decide(record, now, verdict)
        if decision.action in ("move", "promote"):
            kind = "promote" if decision.action == "promote" else "step"
            record = self.move(
                deployment, record, Intent(kind, decision.percent or 0, decision.by, decision.reason)
            )
        elif decision.action == "rollback":
            record = self.move(deployment, record, Intent("rollback", 0, decision.by, decision.reason))
        elif decision.action == "restore":
            record = self.move(deployment, record, Intent("restore", 0, decision.by, decision.reason))
        elif decision.action == "hold" and (not record.history or record.history[-1]["event"] != "held"):
            record = self.store.save(record.noting(now, "held", decision.by, decision.reason))
        return self.view(record)

    # -- one move ---------------------------------------------------------------------------
    def move(self, deployment: Deployment, record: Record, intent: Intent, strict: bool = True) -> Record:
        """Every listener change goes through the listener's owner, which also keeps a
        maintenance page in front of the traffic and notices a change made by hand."""
        pending = record.intent
        if pending and pending.kind in GOING_BACK and intent.kind not in GOING_BACK:
            # A rollback or abort left under way is finished first, never overtaken.
            raise Refused(
                f"{pending.kind} of {record.name!r} is under way ({pending.reason}): nothing else moves"
            )
        record = self.store.save(replace(record, intent=intent))
        expected = self.expected(record, intent)
        try:
            self.owner.set_forward(record.listener_arn, expected, strict, name=listener_name(deployment))
        except HandChanged as exc:
            return self.stop(deployment, record, "listener changed by hand", str(exc))
        except TargetGroupGone as exc:
            return self.broken(deployment, record, str(exc))
        except ListenerMismatch as exc:
            return self.mismatch(deployment, record, expected, forward_of(exc.observed))
        return self.complete(deployment, record, intent)

    def expected(self, record: Record, intent: Intent) -> Forward:
        weights = strategies.weights(record.stable_arn, record.candidate_arn, intent.percent)
        sticky = {"Enabled": False} if intent.kind in ("rollback", "abort") else dict(record.stickiness)
        return Forward(weights, sticky)

    def complete(self, deployment: Deployment, record: Record, intent: Intent) -> Record:
        now = self.clock()
        record = replace(record, intent=None, percent=intent.percent, moved_at=now)
        if intent.kind in ("rollback", "abort"):
            record = self.finish_back(deployment, record, intent, now)
        elif intent.kind == "restore":
            record = replace(record, restore_stickiness_at=None).noting(now, "stickiness restored", intent.by)
        else:
            record = self.finish_step(deployment, record, intent, now)
        record = self.store.save(record)
        self.announce(record, intent)
        if record.state == PROMOTED and intent.kind in ("step", "promote"):
            record = self.after_promote(deployment, record)
        return record

    def finish_step(self, deployment: Deployment, record: Record, intent: Intent, now: float) -> Record:
        step = record.plan.index(intent.percent) if intent.percent in record.plan else len(record.plan) - 1
        next_move_at = now + record.step_interval
        deadline = next_move_at + (deployment.max_hold or hold_limit(record.step_interval))
        record = replace(record, step=step, next_move_at=next_move_at, deadline=deadline)
        event = "promoted" if intent.percent == 100 else "moved"
        if intent.percent == 100:
            record = replace(record, state=PROMOTED, next_move_at=None, deadline=None)
            self.leases.release(lease_key(deployment), f"deployment:{deployment.name}")
        return record.noting(now, event, intent.by, intent.reason)

    def finish_back(self, deployment: Deployment, record: Record, intent: Intent, now: float) -> Record:
        state = ABORTED if intent.kind == "abort" or intent.by == "read-back" else ROLLED_BACK
        restore_at = None
        if record.stickiness.get("Enabled"):
            # Until every cookie issued for the candidate has expired, stickiness stays off.
            restore_at = now + min(float(record.stickiness.get("DurationSeconds") or 0), MAX_STICKY_WAIT)
        record = replace(
            record, state=state, next_move_at=None, deadline=None, restore_stickiness_at=restore_at
        )
        self.leases.release(lease_key(deployment), f"deployment:{deployment.name}")
        return record.noting(
            now, "rolled back" if state == ROLLED_BACK else "aborted", intent.by, intent.reason
        )

    def stop(self, deployment: Deployment, record: Record, event: str, detail: str) -> Record:
        """End the shift where the listener is, without touching it, and tell people."""
        now = self.clock()
        record = replace(record, intent=None, state=ABORTED, next_move_at=None, deadline=None)
        record = self.store.save(record.noting(now, event, "listener", detail))
        self.leases.release(lease_key(deployment), f"deployment:{deployment.name}")
        self.notify(
            Notice(
                "escalated", f"deployment-{record.name}", f"{record.name}: {event}, shift stopped", (detail,)
            )
        )
        return record

    def broken(self, deployment: Deployment, record: Record, detail: str) -> Record:
        """A target group is gone (permanent): back to the stable group where it still exists,
        then end the shift, so `abort` and a new `start` can proceed."""
        stable = Forward({record.stable_arn: 1}, {"Enabled": False})
        try:
            self.owner.set_forward(record.listener_arn, stable, name=listener_name(deployment))
            record = replace(record, percent=0)
            detail += f"; traffic back on {record.stable}"
        except ListenerError as exc:
            detail += f"; traffic left as it is ({exc})"
        return self.stop(deployment, record, "target group gone", detail)

    def mismatch(
        self, deployment: Deployment, record: Record, expected: Forward, observed: Optional[Forward]
    ) -> Record:
        """The listener does not hold what was just written: stop, tell people, go back to stable."""
        now = self.clock()
        detail = (
            f"expected {self.named(expected)}, read back {self.named(observed) if observed else 'no forward'}"
        )
        logger.error("listener read-back mismatch", extra={"deployment": record.name, "detail": detail})
        self.notify(
            Notice(
                "escalated",
                f"deployment-{record.name}",
                f"{record.name}: listener read-back mismatch, shift stopped",
                lines=(detail,),
            )
        )
        record = self.store.save(record.noting(now, "read-back mismatch", "read-back", detail))
        assert record.intent is not None
        if record.intent.kind in ("rollback", "abort", "restore"):
            return record  # the intent stays: the next tick reads back and finishes or redoes it
        return self.move(deployment, record, Intent("abort", 0, "read-back", f"read-back mismatch: {detail}"))

    # -- reconcile after a crash --------------------------------------------------------------
    def reconcile(self, deployment: Deployment, record: Record) -> Record:
        """A move left under way: the listener's desired traffic says whether the owner took it
        (the owner itself makes the listener hold it)."""
        intent = record.intent
        assert intent is not None
        expected = self.expected(record, intent)
        saved = self.owner.state(record.listener_arn, listener_name(deployment)).forward
        if saved is not None and saved.same_as(expected):
            return self.complete(deployment, record, intent)
        if intent.kind in ("rollback", "abort", "restore"):
            return self.move(deployment, record, intent)  # going back is never left half done
        now = self.clock()
        record = replace(record, intent=None).noting(now, "move not applied", intent.by, intent.reason)
        return self.store.save(record)

    # -- helpers ------------------------------------------------------------------------------
    def new_record(
        self, deployment: Deployment, options: StartOptions, previous: Optional[Record], now: float
    ) -> Record:
        strategy = options.strategy or deployment.strategy
        steps = options.steps or deployment.steps
        try:
            plan = strategies.plan(strategy, steps)
        except ValueError as exc:
            raise Refused(str(exc)) from None
        listener_arn = self.elb.find_listener(deployment.listener.load_balancer, deployment.listener.port)
        arns = {name: self.elb.target_group_arn(name) for name in (deployment.blue, deployment.green)}
        live = forward_of(self.elb.default_actions(listener_arn))  # under a page: the saved traffic
        forward = live or self.owner.state(listener_arn, listener_name(deployment)).forward
        if forward is None:
            raise Refused(
                "the listener's default action is not a forward and no traffic is saved: nothing to shift"
            )
        serving = [name for name, arn in arns.items() if forward.weights.get(arn)]
        others = [arn for arn, w in forward.weights.items() if w and arn not in arns.values()]
        if len(serving) != 1 or others:
            raise Refused(f"the listener is split ({self.named(forward)}): abort or finish that shift first")
        stable = serving[0]
        candidate = options.to or next(name for name in arns if name != stable)
        if candidate == stable:
            raise Refused(f"to: {candidate} serves all traffic already; expected the other group")
        stickiness = dict(forward.stickiness)
        if previous is not None and previous.restore_stickiness_at is not None:
            stickiness = dict(previous.stickiness)  # still off after a rollback: the original
        return Record(
            name=deployment.name,
            state=SHIFTING,
            stable=stable,
            candidate=candidate,
            listener_arn=listener_arn,
            stable_arn=arns[stable],
            candidate_arn=arns[candidate],
            plan=plan,
            strategy=strategy,
            step_interval=options.step_interval or deployment.step_interval,
            stickiness=stickiness,
            started_at=now,
            moved_at=now,
            history=previous.history if previous else (),
        )

    def preflight(self, deployment: Deployment, record: Record, now: float) -> None:
        verdict: Verdict = self.gates.check(deployment, record, now, compare=False)
        if verdict.outcome != "pass":
            raise Refused(f"start refused: {verdict.reason}")
        failures = self.hooks.probe(deployment.hooks.before_start) if deployment.hooks.before_start else []
        if failures:
            raise Refused(f"start refused: before_start failed: {'; '.join(failures)}")

    def point_test_listener(self, deployment: Deployment, group_arn: str) -> None:
        assert deployment.test_listener is not None
        lb = deployment.listener.load_balancer
        listener = self.elb.find_listener(lb, deployment.test_listener)
        name = f"{lb}:{deployment.test_listener}"
        self.owner.set_forward(listener, Forward({group_arn: 1}, {"Enabled": False}), name=name)

    def after_promote(self, deployment: Deployment, record: Record) -> Record:
        if deployment.test_listener is not None:
            self.point_test_listener(deployment, record.stable_arn)  # the new standby
        for step in deployment.hooks.after_promote:
            document = step.params["document"]
            try:
                command = self.hooks.run(document, step.params["parameters"], record.candidate_arn)
                record = record.noting(
                    self.clock(), "after_promote", "hook", f"{document}: command {command}"
                )
            except Exception as exc:  # noqa: BLE001 - promoted stays promoted; people hear of it
                record = record.noting(self.clock(), "after_promote failed", "hook", f"{document}: {exc}")
                self.notify(
                    Notice("escalated", f"deployment-{record.name}", f"{document} failed", (str(exc),))
                )
        return self.store.save(record) if deployment.hooks.after_promote else record

    def in_flight(self, deployment: Deployment) -> Record:
        record = self.store.get(deployment.name)
        if record is None or record.state != SHIFTING:
            state = record.state if record else "idle"
            raise Refused(f"deployment {deployment.name!r} is {state}: nothing to promote")
        return record

    def renew(self, deployment: Deployment, record: Record, now: float) -> bool:
        return self.leases.renew(lease_key(deployment), f"deployment:{deployment.name}", now, LEASE_TTL)

    def lease_holder(self, key: str) -> str:
        owner = self.leases.holder(key) or "another deployment"
        return owner.replace("deployment:", "deployment ")

    def named(self, forward: Optional[Forward]) -> str:
        if forward is None:
            return "nothing"
        return ", ".join(f"{name_of_target_group(arn)}={w}" for arn, w in sorted(forward.weights.items()))

    def announce(self, record: Record, intent: Intent) -> None:
        entry = record.history[-1]
        title = f"{record.name}: {entry['event']} ({record.candidate} {record.percent}%)"
        lines = (f"{entry['at']} {entry['event']} by {entry['by']}: {entry.get('detail', '')}".rstrip(": "),)
        self.notify(Notice("action", f"deployment-{record.name}", title, lines=lines))

    def view(self, record: Record) -> dict[str, Any]:
        """What the functions return: the weights as read back from the listener (under a
        maintenance page, the saved weights beneath it)."""
        live = forward_of(self.elb.default_actions(record.listener_arn))
        forward = live or self.owner.state(record.listener_arn).forward
        names = {record.stable_arn: record.stable, record.candidate_arn: record.candidate}
        return {
            "deployment": record.name,
            "state": record.state,
            "stable": record.stable,
            "candidate": record.candidate,
            "weights": weights_by_name(forward, names),
            "step": record.step + 1,
            "steps": list(record.plan),
            "next_move_at": iso_or_none(record.next_move_at if record.state == SHIFTING else None),
            "history": [dict(h) for h in record.history],
        }

    def idle_view(self, deployment: Deployment) -> dict[str, Any]:
        """A deployment that never shifted: the listener read back, its serving group as stable."""
        listener = self.elb.find_listener(deployment.listener.load_balancer, deployment.listener.port)
        live = forward_of(self.elb.default_actions(listener))
        forward = live or self.owner.state(listener).forward
        names = {}
        for name in (deployment.blue, deployment.green):
            with contextlib.suppress(ListenerError):  # a missing group is named by its ARN
                names[self.elb.target_group_arn(name)] = name
        weights = weights_by_name(forward, names)
        serving = [name for name, weight in weights.items() if weight]
        return {
            "deployment": deployment.name,
            "state": "idle",
            "stable": serving[0] if len(serving) == 1 else None,
            "candidate": None,
            "weights": weights,
            "step": 0,
            "steps": list(strategies.plan(deployment.strategy, deployment.steps)),
            "next_move_at": None,
            "history": [],
        }


def weights_by_name(forward: Optional[Forward], names: Mapping[str, str]) -> dict[str, int]:
    if forward is None:
        return {}
    return {names.get(arn) or name_of_target_group(arn): w for arn, w in forward.weights.items()}


def listener_name(deployment: Deployment) -> str:
    return f"{deployment.listener.load_balancer}:{deployment.listener.port}"


def iso_or_none(epoch: Optional[float]) -> Optional[str]:
    from chalicelib.deployments.model import iso

    return None if epoch is None else iso(epoch)


def progress(record: Record) -> str:
    return f"{record.candidate} at {record.percent}%, step {record.step + 1} of {len(record.plan)}"


def describe_start(record: Record) -> str:
    return f"{record.strategy} {list(record.plan)} from {record.stable} to {record.candidate}"


__all__ = ["ListenerError", "Refused", "Shifter", "StartOptions", "ShiftHooks"]
