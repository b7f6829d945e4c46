"""Who may act on what: every target leased by this run (all or none) and within its budget.

Leases are released on every path that does not hand them to a run, including a budget store
that fails half way (the Lambda then raises and is retried with nothing held).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Protocol

from chalicelib.runbooks.budget import Decision
from chalicelib.runbooks.incident import STALE_RUN_SECONDS

LEASE_TTL = STALE_RUN_SECONDS  # a holder that died frees its targets by the time its run is stale


class BudgetLedger(Protocol):
    def spend(self, runbook: str, target: str, now: float, max_runs: int, per: float) -> Decision: ...
    def refund(self, runbook: str, target: str, spent_at: float) -> None: ...


class LeaseHolder(Protocol):
    def acquire(self, target: str, owner: str, now: float, ttl: float) -> bool: ...
    def renew(self, target: str, owner: str, now: float, ttl: float) -> bool: ...
    def release(self, target: str, owner: str) -> None: ...


@dataclass
class Admitted:
    allowed: list[str] = field(default_factory=list)
    busy: Optional[str] = None  # a target another run holds: nothing was admitted
    exhausted: list[str] = field(default_factory=list)  # refused by the budget, first time this window
    refused: dict[str, int] = field(default_factory=dict)  # refused by the budget: runs in its window


class Admission:
    def __init__(self, budget: BudgetLedger, leases: LeaseHolder) -> None:
        self.budget = budget
        self.leases = leases

    def admit(
        self, runbook: str, targets: list[str], owner: str, now: float, max_runs: int, per: float
    ) -> Admitted:
        busy = self.lease_all(sorted(targets), owner, now)
        if busy:
            return Admitted(busy=busy)
        result = Admitted()
        try:
            for target in targets:
                decision = self.budget.spend(runbook, target, now, max_runs, per)
                if decision.allowed:
                    result.allowed.append(target)
                    continue
                result.refused[target] = decision.runs_in_window
                if decision.escalate:
                    result.exhausted.append(target)
        except BaseException:
            self.release(targets, owner)
            raise
        self.release(list(result.refused), owner)
        return result

    def lease_all(self, targets: list[str], owner: str, now: float) -> Optional[str]:
        """All or none, in sorted order, so two runs never each hold half of one set. Returns the
        first target someone else holds, having let go of what this run took."""
        taken: list[str] = []
        try:
            for target in targets:
                if not self.leases.acquire(target, owner, now, LEASE_TTL):
                    self.release(taken, owner)
                    return target
                taken.append(target)
        except BaseException:
            self.release(taken, owner)
            raise
        return None

    def renew(self, targets: list[str], owner: str, now: float) -> Optional[str]:
        """Keep holding; returns the first target this run no longer holds."""
        for target in targets:
            if not self.leases.renew(target, owner, now, LEASE_TTL):
                return target
        return None

    def give_back(self, runbook: str, targets: list[str], owner: str, admitted_at: float) -> None:
        """Undo an admission that did nothing (the invocation failed before acting and Lambda
        will retry it): the leases, and the runs spent, so a retry is not charged twice."""
        self.release(targets, owner)
        for target in targets:
            try:
                self.budget.refund(runbook, target, admitted_at)
            except Exception:  # noqa: BLE001 - at worst one run too many is counted
                continue

    def release(self, targets: list[str], owner: str) -> None:
        """Best effort on every target: one failed delete must not keep the others held."""
        for target in targets:
            try:
                self.leases.release(target, owner)
            except Exception:  # noqa: BLE001 - the lease's TTL frees it soon
                continue
