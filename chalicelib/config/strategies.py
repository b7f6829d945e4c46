"""Which deployment strategies there are, and whether a deployment's steps suit its strategy.

The config validates `deployments.<name>.strategy` and `steps` with these; the deployments
domain plans its moves with them (`deployments.strategies.plan`).

>>> print(plan_problem("linear", (0,)))
steps: linear expects an increment 1..99 first, got 0
"""

from __future__ import annotations

from typing import Optional, Sequence

STRATEGIES = ("all_at_once", "canary", "linear")


def plan_problem(strategy: str, steps: Sequence[int]) -> Optional[str]:
    """Why `steps` does not suit `strategy`, or None."""
    if strategy not in STRATEGIES:
        return f"strategy: expected one of {', '.join(STRATEGIES)}, got {strategy!r}"
    if strategy == "all_at_once":
        return None
    if not steps or any(not isinstance(s, int) or isinstance(s, bool) for s in steps):
        return f"steps: expected a list of whole percentages, got {list(steps)!r}"
    if strategy == "linear":
        increment = steps[0]
        if not 1 <= increment <= 99:
            return f"steps: linear expects an increment 1..99 first, got {increment}"
        expected = list(range(increment, 100, increment)) + [100]
        if len(steps) > 1 and list(steps) != expected:
            return f"steps: linear expects evenly spaced steps like {expected} (or just [{increment}])"
        return None
    if list(steps) != sorted(set(steps)) or steps[0] < 1 or steps[-1] != 100:
        return f"steps: expected rising percentages from 1 ending at 100, got {list(steps)}"
    return None


def given_steps_problem(strategy: str, steps: Sequence[int]) -> Optional[str]:
    """As `plan_problem`, for steps a person wrote out: all_at_once would ignore them, so it
    refuses any but [100] (a deployment's default steps, never written, are not checked here).

    >>> print(given_steps_problem("all_at_once", (10, 100)))  # doctest: +ELLIPSIS
    steps: all_at_once moves all traffic in one step and takes no steps, got [10, 100]: remove...
    """
    if strategy == "all_at_once" and list(steps) != [100]:
        return (
            f"steps: all_at_once moves all traffic in one step and takes no steps, got {list(steps)!r}: "
            "remove steps or choose canary or linear"
        )
    return plan_problem(strategy, steps)
