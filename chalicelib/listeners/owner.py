"""The one writer of a listener's default action.

Every change is: take the listener's write lease; read the listener; notice a change made by
hand (adopt it and tell people, never overwrite it silently); edit the desired state and save it
(the intent, before any side effect); ModifyListener from that state; read back; record what was
confirmed. A Lambda that dies between two of those calls leaves a desired state that `reconcile`
finishes: the live action equals the last confirmed one (the write never landed: write it) or
the desired one (it landed: confirm it). Anything else was done by a person.

>>> owner = ListenerOwner("autoheal-state", Elbv2(), notify=print)
>>> owner.set_forward(listener_arn, Forward({blue: 90, green: 10}, {"Enabled": False}))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import replace
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

from aws_lambda_powertools import Logger

from chalicelib.aws.elbv2 import (
    Elbv2,
    Forward,
    ListenerError,
    check_weights,
    comparable,
    name_of_target_group,
)
from chalicelib.leases import Leases
from chalicelib.listeners.desired import MAINTENANCE, Desired, Overlay, adopted, after_hand_change
from chalicelib.listeners.store import DesiredStore
from chalicelib.notify.notice import Notice

logger = Logger(service="autoheal", child=True)
WRITE_LEASE_TTL = 30.0  # longer than one change takes (an ELB write times out after 13 s)
LEASE_POLLS, LEASE_POLL_SECONDS = 24, 0.25  # how long a writer waits for another to finish
MAX_PRIORITY = 50_000


class HandChanged(RuntimeError):
    """The listener's traffic is not what the caller believed: a person changed it."""


class ListenerMismatch(ListenerError):
    """The listener read back something other than what was just written."""

    def __init__(
        self, name: str, expected: list[Mapping[str, Any]], observed: list[Mapping[str, Any]]
    ) -> None:
        super().__init__(f"listener {name} read back {describe(observed)}, expected {describe(expected)}")
        self.expected = expected
        self.observed = observed


class ListenerBusy(RuntimeError):
    """Another invocation holds the listener's write lease: try again (transient)."""


class TargetGroupGone(ListenerError):
    """A target group the traffic would go to does not exist any more (permanent)."""


class ListenerOwner:
    def __init__(
        self,
        table_name: str,
        elb: Elbv2,
        notify: Callable[[Notice], Any] = lambda notice: None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = DesiredStore(table_name)
        self.leases = Leases(table_name)
        self.elb = elb
        self.notify = notify
        self.clock = clock
        self.sleep = sleep
        self.holder = f"listener-writer:{uuid.uuid4().hex[:12]}"

    # -- reads ------------------------------------------------------------------------------
    def state(self, listener_arn: str, name: str = "") -> Desired:
        """The desired state; for a listener autoheal never wrote, what it holds now."""
        return self.store.get(listener_arn) or adopted(
            listener_arn, name, self.elb.default_actions(listener_arn)
        )

    # -- changes ----------------------------------------------------------------------------
    def set_forward(
        self, listener_arn: str, forward: Forward, strict: bool = False, name: str = ""
    ) -> Desired:
        """Set the traffic weights; under an overlay only the saved weights move. `strict` (a
        shift under way) refuses with HandChanged once a person's change was adopted."""
        check_weights(forward.weights)
        try:
            self.elb.target_groups_exist(list(forward.weights))
        except ListenerError as exc:
            raise TargetGroupGone(str(exc)) from None

        def edit(desired: Desired) -> Desired:
            if strict and desired.by_hand:
                label = desired.name or listener_arn
                raise HandChanged(f"listener {label} was changed by hand: {describe(desired.actions())}")
            return desired.with_forward(forward)

        return self.change(listener_arn, name, edit)

    def divert(
        self,
        listener_arn: str,
        actions: Sequence[Mapping[str, Any]],
        reason: str,
        rule_conditions: Sequence[Mapping[str, Any]] = (),
        name: str = "",
    ) -> Desired:
        """Put `actions` (the maintenance page) in front of the traffic, which is kept as it is;
        a rule matching `rule_conditions` keeps forwarding to the app (health checks)."""

        def edit(desired: Desired) -> Desired:
            if desired.forward is None:
                raise ListenerError("the listener's default action is not a forward: nothing to divert from")
            conditions = tuple(dict(c) for c in rule_conditions)
            was = desired.overlay
            kept = was.rule_arn if was is not None and was.rule_conditions == conditions else None
            overlay = Overlay(MAINTENANCE, tuple(actions), reason[:500], conditions, kept)
            return replace(desired, overlay=overlay)

        return self.change(listener_arn, name, edit)

    def restore(
        self, listener_arn: str, fallback: Callable[[], Optional[Forward]] = lambda: None, name: str = ""
    ) -> Desired:
        """Take any overlay off: the traffic as it is now returns (or `fallback()` when autoheal
        has none saved, e.g. a listener found on the maintenance page)."""

        def edit(desired: Desired) -> Desired:
            if desired.overlay is None:
                return desired
            if desired.forward is None:
                default = fallback()
                if default is None:
                    raise ListenerError(
                        f"listener {desired.name or listener_arn}: no saved traffic to restore and no "
                        "deployment names its stable target group"
                    )
                desired = desired.with_forward(default)
            retired = desired.overlay.rule_arn or desired.retired_rule
            return replace(desired, overlay=None, retired_rule=retired)

        return self.change(listener_arn, name, edit)

    def reconcile(self, listener_arn: str) -> Optional[str]:
        """Make the listener hold its desired state again; what was done, None when nothing."""
        with self.write_lease(listener_arn):
            current = self.store.get(listener_arn)
            if current is None:
                return None
            live = self.elb.default_actions(listener_arn)
            seen = comparable(live)
            if seen == current.target():
                if current.applied == seen and not current.retired_rule:
                    return None
                self.store.save(self.confirmed(current, seen))
                return "confirmed"
            if current.applied and seen != current.applied:
                self.adopt_hand_change(current, live)
                return "adopted a change made by hand"
            self.apply(current, live, previous=None)
            return "repaired"

    def reconcile_all(self) -> list[str]:
        """Every listener autoheal holds a desired state for; never raises (each is retried)."""
        said = []
        for desired in self.store.all():
            try:
                did = self.reconcile(desired.listener_arn)
            except Exception as exc:  # noqa: BLE001 - one listener must not stop the others
                logger.exception("listener reconcile failed", extra={"listener": desired.name})
                said.append(f"{desired.name}: error: {type(exc).__name__}: {exc}"[:300])
                continue
            if did:
                said.append(f"{desired.name}: {did}")
        return said

    # -- one change -------------------------------------------------------------------------
    def change(self, listener_arn: str, name: str, edit: Callable[[Desired], Desired]) -> Desired:
        with self.write_lease(listener_arn):
            live = self.elb.default_actions(listener_arn)
            current = self.store.get(listener_arn)
            if current is None:
                current = adopted(listener_arn, name, live)  # saved only with a change
            else:
                current = self.adopt_hand_change(current, live)
            wanted = edit(current)
            if wanted == current and comparable(live) == current.target():
                return current
            saved = self.store.save(wanted)  # the intent, before any side effect
            return self.apply(saved, live, previous=current)

    def apply(self, saved: Desired, live: list[Mapping[str, Any]], previous: Optional[Desired]) -> Desired:
        saved = self.sync_rule(saved, previous)
        target = saved.actions()
        if comparable(live) != saved.target():
            try:
                self.elb.set_default_actions(saved.listener_arn, target)
            except Exception:
                if previous is not None and self.read(saved) == comparable(live):
                    self.revert(saved, previous)  # proven unchanged: the request changed nothing
                raise  # else the intent stays and `reconcile` finishes it
        observed = self.elb.default_actions(saved.listener_arn)
        if comparable(observed) != saved.target():
            raise ListenerMismatch(saved.name or saved.listener_arn, target, observed)
        return self.store.save(self.confirmed(saved, comparable(observed)))

    def confirmed(self, desired: Desired, seen: str) -> Desired:
        if desired.retired_rule:
            self.elb.delete_rule(desired.retired_rule)
        return replace(desired, applied=seen, retired_rule=None)

    def revert(self, saved: Desired, previous: Desired) -> None:
        created = saved.overlay.rule_arn if saved.overlay else None
        if created and (previous.overlay is None or previous.overlay.rule_arn != created):
            self.elb.delete_rule(created)
        self.store.save(replace(previous, version=saved.version))

    def sync_rule(self, saved: Desired, previous: Optional[Desired]) -> Desired:
        """The health rule exists before the divert and forwards as the traffic does."""
        overlay = saved.overlay
        if overlay is None or not overlay.rule_conditions or saved.forward is None:
            return saved
        if overlay.rule_arn is None:
            arn = saved.listener_arn
            rule_arn = self.existing_rule(arn, overlay.rule_conditions) or self.elb.create_rule(
                arn,
                self.free_priority(arn),
                [dict(c) for c in overlay.rule_conditions],
                rule_forward(saved.traffic),
            )
            return self.store.save(replace(saved, overlay=replace(overlay, rule_arn=rule_arn)))
        before = previous.forward if previous is not None else None
        if before is not None and not before.same_as(saved.forward):
            self.elb.set_rule_forward(overlay.rule_arn, saved.forward.weights, saved.forward.stickiness)
        return saved

    def adopt_hand_change(self, current: Desired, live: list[Mapping[str, Any]]) -> Desired:
        seen = comparable(live)
        if not current.applied or seen in (current.applied, current.target()):
            return current  # autoheal's own write, landed or not
        label = current.name or current.listener_arn
        logger.warning("listener changed by hand", extra={"listener": label, "found": seen})
        adopted_state = self.store.save(after_hand_change(current, live))
        try:
            self.tell_hand_change(label, current, live)
        except Exception:  # noqa: BLE001 - adopted and logged; telling must not undo the change
            logger.exception("could not tell people of a listener changed by hand", extra={"listener": label})
        return adopted_state

    def tell_hand_change(self, label: str, current: Desired, live: list[Mapping[str, Any]]) -> None:
        self.notify(
            Notice(
                "escalated",
                f"listener-{label}",
                f"{label}: the listener was changed by hand",
                lines=(
                    f"autoheal had set {describe(current.actions())}",
                    f"found {describe(live)}",
                    "autoheal keeps the change and stops any shift on this listener",
                ),
            )
        )

    # -- helpers ----------------------------------------------------------------------------
    def read(self, desired: Desired) -> str:
        return comparable(self.elb.default_actions(desired.listener_arn))

    @contextlib.contextmanager
    def write_lease(self, listener_arn: str) -> Iterator[None]:
        key = f"listener-write:{listener_arn}"
        for _ in range(LEASE_POLLS):
            if self.leases.acquire(key, self.holder, self.clock(), WRITE_LEASE_TTL):
                break
            self.sleep(LEASE_POLL_SECONDS)
        else:
            raise ListenerBusy(f"listener {listener_arn} is being written by another invocation")
        try:
            yield
        finally:
            self.leases.release(key, self.holder)

    def existing_rule(self, listener_arn: str, conditions: Sequence[Mapping[str, Any]]) -> Optional[str]:
        """A rule left by a divert that stopped before recording it (never create a second)."""
        wanted = [dict(c) for c in conditions]
        for rule in self.elb.rules(listener_arn):
            if rule.get("Conditions") == wanted:
                return rule["RuleArn"]
        return None

    def free_priority(self, listener_arn: str) -> int:
        """The lowest free priority: evaluated before every other rule."""
        taken = {int(r["Priority"]) for r in self.elb.rules(listener_arn)}
        return next(p for p in range(1, MAX_PRIORITY + 1) if p not in taken)


def rule_forward(traffic: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The traffic's forward action as a rule's action (without a default action's Order)."""
    forward = next(dict(a) for a in traffic if a.get("Type") == "forward")
    forward.pop("Order", None)
    return [forward]


def named(forward: Forward) -> str:
    return ", ".join(f"{name_of_target_group(arn)}={w}" for arn, w in sorted(forward.weights.items()))


def describe(actions: Sequence[Mapping[str, Any]]) -> str:
    """An action list in a few words, for people and logs."""
    from chalicelib.aws.elbv2 import forward_of

    forward = forward_of(list(actions))
    if forward is not None:
        return f"forward {named(forward)}" + (" (sticky)" if forward.sticky else "")
    if not actions:
        return "nothing"
    kind = str(actions[0].get("Type"))
    if kind == "redirect":
        config = actions[0].get("RedirectConfig", {})
        return f"redirect to {config.get('Host', '')}{config.get('Path', '')}"
    return kind
