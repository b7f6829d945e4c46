"""The import graph of `chalicelib`: no cycle between modules, no arrow up across layers.

Every import counts, at module level or inside a function (a deferred import is still a
dependency, only a later one); imports under `if TYPE_CHECKING:` are left out (they never run).
`from package import name` points at `package.name` when that is a module, else at `package`.
A package's `__init__` importing its own modules (to re-export or register them) is the
package's content, not a dependency: Python runs a package's `__init__` before any of its
modules anyway, so that edge orders nothing and is left out. A `__main__` module is an entry
point (`python -m`), like `app.py`: nothing imports it, it sits above every layer.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "chalicelib"

# Bottom to top. A module may import from its own layer (its own package) and from below, never
# from above. `app.py` sits on top of `wiring`, the one composition root.
LAYERS: list[tuple[str, ...]] = [
    ("aws", "logs", "cron", "leases", "state", "registry"),  # adapters and shared plumbing
    ("config",),
    # domain packages, each only on those before it
    ("alarms",),
    ("probe",),
    ("metrics",),
    ("notify",),
    ("listeners",),
    ("deployments",),
    ("maintenance",),
    ("runbooks",),
    ("subscriptions",),
    ("statuspage",),
    ("vantage",),  # a quorum of regions: votes, confirmations, the gate before publishing
    ("monitoring",),  # a probe run: probes, folds, publishes transitions and the site
    ("fanout",),  # the probe run spread over shard workers
    ("incidents",),
    ("plugins",),  # imports every built-in kind, so the registries are full before a config loads
    ("wiring",),  # builds every store, client and service
]


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.source} imports {self.target}"


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = modules()


def resolve(name: str) -> Optional[str]:
    """The deepest module of ours that `name` names or lies in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def type_checking_lines(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for inner in ast.walk(child):
                    if hasattr(inner, "lineno"):
                        skipped.add(inner.lineno)
    return skipped


def imported(node: ast.AST, package: str) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(parts + ([base] if base else []))
        for alias in node.names:
            yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base


def edges() -> list[Edge]:
    found: list[Edge] = []
    for name, path in MODULES.items():
        if name.endswith(".__main__"):
            continue  # an entry point (see the module docstring)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = type_checking_lines(tree)
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.lineno in skipped:
                continue
            for target in {resolve(t) for t in imported(node, package) if t.startswith(PACKAGE)}:
                if target is None or target == name:
                    continue
                if is_package and target.startswith(f"{name}."):
                    continue  # the package's own content (see the module docstring)
                found.append(Edge(name, target, rel, node.lineno))
    return found


EDGES = edges()


def layer_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"{module}: in no layer; add its package to LAYERS")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan's, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def described(component: list[str], edges: list[Edge], key=lambda m: m) -> str:
    inside = set(component)
    lines = [
        f"  {e}"
        for e in edges
        if key(e.source) in inside and key(e.target) in inside and key(e.source) != key(e.target)
    ]
    return f"cycle of {len(component)}: {', '.join(component)}\n" + "\n".join(sorted(set(lines)))


def test_every_module_is_in_a_layer() -> None:
    for module in MODULES:
        if module != PACKAGE and not module.endswith(".__main__"):
            layer_of(module)


def test_no_module_level_cycle() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for edge in EDGES:
        graph[edge.source].add(edge.target)
    found = cycles(graph)
    assert not found, "\n".join(described(c, EDGES) for c in found)


def test_no_arrow_up_across_layers() -> None:
    up = [str(e) for e in EDGES if e.target != PACKAGE and layer_of(e.target) > layer_of(e.source)]
    assert not up, "imports of a higher layer:\n" + "\n".join(sorted(up))


def test_domain_packages_do_not_import_each_other_in_a_cycle() -> None:
    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    graph: dict[str, set[str]] = {}
    for edge in EDGES:
        if package(edge.source) != package(edge.target):
            graph.setdefault(package(edge.source), set()).add(package(edge.target))
    found = cycles(graph)
    assert not found, "\n".join(described(c, EDGES, key=package) for c in found)


def test_every_class_name_says_one_thing() -> None:
    """A class name used in two modules makes a reader ask which one is meant."""
    seen: dict[str, list[str]] = {}
    for path in MODULES.values():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                seen.setdefault(node.name, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    twice = {name: where for name, where in seen.items() if len(where) > 1}
    assert not twice, "\n".join(f"{name}: {', '.join(where)}" for name, where in sorted(twice.items()))
