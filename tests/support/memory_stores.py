"""In-memory stand-ins for the lease and budget stores, for engine tests without AWS.

They keep the same contract as the DynamoDB stores (tests/runbooks/test_store_contracts.py runs
one suite against both), so a test that passes on a fake means the same on the real store.
"""

from __future__ import annotations

from typing import Optional

from chalicelib.runbooks.budget import Decision, admit


class MemoryBudget:
    def __init__(self) -> None:
        self.runs: dict[str, list[float]] = {}
        self.escalated_at: dict[str, float] = {}

    def spend(self, runbook: str, target: str, now: float, max_runs: int, per: float) -> Decision:
        key = f"{runbook}#{target}"
        allowed, kept = admit(self.runs.get(key, []), now, max_runs, per)
        self.runs[key] = kept
        last: Optional[float] = self.escalated_at.get(key)
        escalate = not allowed and (last is None or last <= now - per)
        if escalate:
            self.escalated_at[key] = now
        return Decision(allowed, len(kept), escalate)

    def refund(self, runbook: str, target: str, spent_at: float) -> None:
        key = f"{runbook}#{target}"
        self.runs[key] = [t for t in self.runs.get(key, []) if abs(t - spent_at) > 0.001]


class MemoryLeases:
    def __init__(self) -> None:
        self.held: dict[str, tuple[str, float]] = {}  # target -> (owner, expires_at)

    def acquire(self, target: str, owner: str, now: float, ttl: float) -> bool:
        holder = self.held.get(target)
        if holder is not None and holder[0] != owner and holder[1] >= int(now):
            return False
        self.held[target] = (owner, int(now + ttl))
        return True

    def renew(self, target: str, owner: str, now: float, ttl: float) -> bool:
        return self.acquire(target, owner, now, ttl)

    def holder(self, target: str) -> Optional[str]:
        return self.held[target][0] if target in self.held else None

    def release(self, target: str, owner: str) -> None:
        if self.held.get(target, ("",))[0] == owner:
            del self.held[target]
