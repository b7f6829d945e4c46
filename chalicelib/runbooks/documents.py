"""The parameters of the SSM documents autoheal ships, as their `allowedPattern`s say.

A `run` step (in a runbook or a deployment's `after_promote` hook) naming one of these documents
has its parameters checked here at config load, so a value SSM would refuse at 3 a.m. fails the
config check instead. tests/test_packaging.py checks these patterns against the template.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

# By what a stage's document name ends with: the stack names them autoheal-<stage>-<suffix>.
SHIPPED: dict[str, dict[str, re.Pattern[str]]] = {
    "valkey-promote": {
        "master": re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
        "sentinel": re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}:[0-9]{1,5}$"),
        "port": re.compile(r"^[0-9]{1,5}$"),
    },
}


def shipped_patterns(document: str) -> dict[str, re.Pattern[str]] | None:
    """The parameter patterns of a document autoheal ships, under any stage's name for it."""
    if not document.startswith("autoheal-"):
        return None
    return next((p for suffix, p in SHIPPED.items() if document.endswith(f"-{suffix}")), None)


def parameter_problems(document: str, parameters: Mapping[str, Sequence[str]]) -> list[str]:
    """What is wrong with `parameters` for a shipped document (nothing for other documents)."""
    patterns = shipped_patterns(document)
    if patterns is None:
        return []
    problems = []
    for name, values in parameters.items():
        pattern = patterns.get(name)
        if pattern is None:
            problems.append(f"{document} has no parameter {name!r} (it has {', '.join(sorted(patterns))})")
            continue
        for value in values:
            if not pattern.fullmatch(value):
                problems.append(f"{name}: expected a value matching {pattern.pattern}, got {value[:80]!r}")
    return problems
