"""The registry of runbook step kinds: one module per kind, registered by name.

Adding a kind is one new module here with a `StepKind` subclass decorated with `@register`, and
its import below. `REGISTRY` is `config.kinds.STEPS`: the config loader reads every step through
`REGISTRY[kind].read` and calls its `cross_check`, the policy generator grants its `grants`,
`check --live` runs its `lookups`, and the engine runs it through `REGISTRY[kind]().execute`.

>>> sorted(REGISTRY)
['diagnose', 'escalate', 'maintenance', 'reboot', 'replace', 'restart', 'run', 'traffic', 'verify']
"""

from __future__ import annotations

from typing import TypeVar

from chalicelib.config.kinds import STEPS
from chalicelib.runbooks.steps.base import ESCALATED, HEALED, MOVED, NEXT, PAUSE, StepContext, StepKind

REGISTRY = STEPS
S = TypeVar("S", bound=type[StepKind])


def register(kind: S) -> S:
    return STEPS.register(kind)


def unknown_kind(name: str) -> str:
    """What to tell a person who wrote a step kind that is not registered, with the closest one.

    >>> print(unknown_kind("escalte"))  # doctest: +ELLIPSIS
    unknown step kind 'escalte' (known: diagnose, escalate, ...); did you mean 'escalate'?
    """
    return STEPS.unknown(name)


# Imported for their @register; the order is irrelevant.
from chalicelib.runbooks.steps import (  # noqa: E402
    diagnose,
    escalate,
    maintenance,
    reboot,
    replace,
    restart,
    run,
    traffic,
    verify,
)

__all__ = [
    "ESCALATED",
    "HEALED",
    "MOVED",
    "NEXT",
    "PAUSE",
    "REGISTRY",
    "StepContext",
    "StepKind",
    "diagnose",
    "escalate",
    "maintenance",
    "reboot",
    "replace",
    "restart",
    "run",
    "traffic",
    "verify",
    "register",
    "unknown_kind",
]
