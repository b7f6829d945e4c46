"""Weight plans: the candidate's share after each move, in percent, always ending at 100.

>>> plan("canary", (10, 50, 100))
(10, 50, 100)
>>> plan("linear", (25,))
(25, 50, 75, 100)
>>> plan("all_at_once", (10, 50, 100))
(100,)
"""

from __future__ import annotations

from typing import Sequence

from chalicelib.config.strategies import STRATEGIES, given_steps_problem, plan_problem

__all__ = ["STRATEGIES", "given_steps_problem", "plan", "plan_problem", "weights"]


def plan(strategy: str, steps: Sequence[int]) -> tuple[int, ...]:
    """The plan for `strategy`; raise ValueError (naming what was expected) for a bad one."""
    problem = plan_problem(strategy, steps)
    if problem:
        raise ValueError(problem)
    if strategy == "all_at_once":
        return (100,)
    if strategy == "linear":
        increment = steps[0]
        return tuple(range(increment, 100, increment)) + (100,)
    return tuple(steps)


def weights(stable_arn: str, candidate_arn: str, percent: int) -> dict[str, int]:
    """ALB weights for a candidate share of `percent` (weights are relative, 0..999)."""
    return {stable_arn: 100 - percent, candidate_arn: percent}
