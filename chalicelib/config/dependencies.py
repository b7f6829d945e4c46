"""`monitors[].depends_on`: which monitors' alerts fold into another's incident.

While a dependency is DOWN, a dependent's transitions join the dependency's incident and tell
nobody on their own (alerting is suppressed, monitoring is not: state and history keep
counting). A resolve is never suppressed, and a dependent still DOWN once its dependency has
recovered becomes its own incident at once (see `incidents.alarm`).

>>> from chalicelib.config.model import Monitor
>>> dependency_errors((Monitor("web", "http://a/", depends_on=("web",)),))
["monitors[0].depends_on: 'web' cannot depend on itself"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:
    from chalicelib.config.model import Monitor


def dependency_errors(monitors: Sequence[Monitor]) -> list[str]:
    """Unknown names, a monitor depending on itself, and cycles, each by key path."""
    names = {m.name for m in monitors}
    errors: list[str] = []
    for i, monitor in enumerate(monitors):
        for name in monitor.depends_on:
            if name == monitor.name:
                errors.append(f"monitors[{i}].depends_on: {name!r} cannot depend on itself")
            elif name not in names:
                errors.append(f"monitors[{i}].depends_on: no monitor named {name!r}")
    graph = {m.name: [d for d in m.depends_on if d in names and d != m.name] for m in monitors}
    index = {m.name: i for i, m in reversed(list(enumerate(monitors)))}
    for cycle in cycles(graph):
        path = " -> ".join([*cycle, cycle[0]])
        errors.append(f"monitors[{index[cycle[0]]}].depends_on: a cycle ({path})")
    return errors


def cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each cycle once, starting at its first member in the graph's order (depth-first)."""
    order = {name: i for i, name in enumerate(graph)}
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in graph.get(node, ()):
            if nxt in path:
                cycle = path[path.index(nxt) :]
                members = frozenset(cycle)
                if members not in seen:
                    seen.add(members)
                    start = min(range(len(cycle)), key=lambda k: order[cycle[k]])
                    found.append(cycle[start:] + cycle[:start])
            elif nxt not in done:
                visit(nxt, [*path, nxt])
        done.add(node)

    for name in graph:
        if name not in done:
            visit(name, [name])
    return found
