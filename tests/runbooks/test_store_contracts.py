"""One contract, two implementations: the in-memory lease and budget stores the engine tests use
behave as the DynamoDB stores do (against moto in server mode), so neither drifts."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from chalicelib.leases import Leases
from chalicelib.runbooks.budget import BudgetStore
from tests.support.memory_stores import MemoryBudget, MemoryLeases

T = 1_900_000_000.0


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {"leases": MemoryLeases(), "budget": MemoryBudget()}
    world = request.getfixturevalue("world")
    name = world.config.settings.state_table
    return {"leases": Leases(name), "budget": BudgetStore(name)}


def test_a_lease_is_held_by_one_owner_until_it_expires_or_is_released(stores):
    leases = stores["leases"]
    assert leases.acquire("i-1", "run-a", T, 180)
    assert not leases.acquire("i-1", "run-b", T + 10, 180)
    assert leases.acquire("i-1", "run-a", T + 10, 180)  # its own: renewed
    leases.release("i-1", "run-b")  # not the holder: nothing happens
    assert not leases.acquire("i-1", "run-b", T + 20, 180)
    leases.release("i-1", "run-a")
    assert leases.acquire("i-1", "run-b", T + 20, 180)


def test_an_expired_lease_goes_to_the_next_asker_and_the_old_holder_cannot_renew_it(stores):
    leases = stores["leases"]
    assert leases.acquire("i-1", "run-a", T, 180)
    assert leases.acquire("i-1", "run-b", T + 181, 180)
    assert not leases.renew("i-1", "run-a", T + 182, 180)
    leases.release("i-1", "run-a")  # too late: run-b's now
    assert not leases.acquire("i-1", "run-c", T + 183, 180)


def test_the_holder_of_a_lease_is_told_until_it_is_released(stores):
    leases = stores["leases"]
    assert leases.holder("listener-a") is None
    assert leases.acquire("listener-a", "deployment:web", T, 900)
    assert not leases.acquire("listener-a", "deployment:api", T + 1, 900)
    assert leases.holder("listener-a") == "deployment:web"
    leases.release("listener-a", "deployment:web")
    assert leases.holder("listener-a") is None


def spend(budget: Any, at: float) -> tuple[bool, int, bool]:
    decision = budget.spend("restart-web", "i-1", at, 2, 1800.0)
    return decision.allowed, decision.runs_in_window, decision.escalate


def test_the_budget_admits_max_runs_per_window_and_escalates_once_per_window(stores):
    budget = stores["budget"]
    assert spend(budget, T) == (True, 1, False)
    assert spend(budget, T + 60) == (True, 2, False)
    assert spend(budget, T + 120) == (False, 2, True)  # refused: people are told once...
    assert spend(budget, T + 180) == (False, 2, False)  # ...not again in the same window
    assert spend(budget, T + 1801) == (True, 2, False)  # the first run left the window


def test_budgets_are_per_runbook_and_target(stores):
    budget: Callable[..., Any] = stores["budget"].spend
    for _ in range(2):
        budget("restart-web", "i-1", T, 2, 1800.0)
    assert budget("restart-web", "i-2", T, 2, 1800.0).allowed
    assert budget("restart-fleet", "i-1", T, 2, 1800.0).allowed


def test_a_refunded_run_no_longer_counts(stores):
    budget = stores["budget"]
    assert spend(budget, T) == (True, 1, False)
    assert spend(budget, T + 60) == (True, 2, False)
    budget.refund("restart-web", "i-1", T + 60)
    budget.refund("restart-web", "i-1", T + 999)  # never spent: nothing changes
    assert spend(budget, T + 120) == (True, 2, False)
    assert spend(budget, T + 180) == (False, 2, True)


def test_an_admission_given_back_frees_the_targets_and_their_budget(stores):
    from chalicelib.runbooks.admission import Admission

    admission = Admission(stores["budget"], stores["leases"])
    admitted = admission.admit("restart-web", ["i-1", "i-2"], "run-a", T, 1, 1800.0)
    assert admitted.allowed == ["i-1", "i-2"]
    assert not stores["leases"].acquire("i-1", "run-b", T + 1, 180)

    admission.give_back("restart-web", ["i-1", "i-2"], "run-a", T)  # the invocation acted on nothing

    again = admission.admit("restart-web", ["i-1", "i-2"], "run-b", T + 2, 1, 1800.0)
    assert again.allowed == ["i-1", "i-2"] and again.refused == {}
