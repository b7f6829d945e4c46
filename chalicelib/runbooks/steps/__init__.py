"""The registry of runbook step kinds: one module per kind, registered by name.

Adding a kind is one new module here with a `StepKind` subclass decorated with `@register`, and
its import below. The config loader reads every step through `REGISTRY[kind].read`, the engine
runs it through `REGISTRY[kind]().execute`, and a test checks each kind's `iam_actions` against
the IAM policy the project ships.

>>> sorted(REGISTRY)
['escalate', 'maintenance', 'reboot', 'replace', 'restart', 'run', 'traffic', 'verify']
"""

from __future__ import annotations

import difflib

from chalicelib.runbooks.steps.base import ESCALATED, HEALED, MOVED, NEXT, PAUSE, StepContext, StepKind

REGISTRY: dict[str, type[StepKind]] = {}


def register(kind: type[StepKind]) -> type[StepKind]:
    if not kind.kind or kind.kind in REGISTRY:
        raise ValueError(f"step kind {kind.kind!r}: empty or registered twice")
    REGISTRY[kind.kind] = kind
    return kind


def unknown_kind(name: str) -> str:
    """What to tell a person who wrote a step kind that is not registered, with the closest one.

    >>> print(unknown_kind("escalte"))  # doctest: +ELLIPSIS
    unknown step kind 'escalte' (known: escalate, maintenance, ...); did you mean 'escalate'?
    """
    close = difflib.get_close_matches(name, REGISTRY, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown step kind {name!r} (known: {', '.join(sorted(REGISTRY))}){hint}"


# Imported for their @register; the order is irrelevant.
from chalicelib.runbooks.steps import (  # noqa: E402
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
