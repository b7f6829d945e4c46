"""docs/state-table.md lists every partition of the state table, and only those: the code's
partitions are the module constants `PARTITION = "..."` (or `<NAME>_PARTITION`) in chalicelib, and
Powertools' `static_pk_value`. A partition written any other way (a literal `"pk": "..."`) fails."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chalicelib"
DOC = ROOT / "docs" / "state-table.md"
ROW = re.compile(r"^\|\s*`(?P<pk>[^`]+)`\s*\|\s*`(?P<module>[^`]+)`\s*\|")


def is_partition_name(name: str) -> bool:
    return name == "PARTITION" or name.endswith("_PARTITION")


def constants(tree: ast.Module) -> set[str]:
    """Module-level `PARTITION = "x"` and `PARTITION, KEY = "x", "y"`."""
    found: set[str] = set()
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs = [(target, node.value)]
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                pairs = list(zip(target.elts, node.value.elts, strict=True))
            for name, value in pairs:
                if isinstance(name, ast.Name) and is_partition_name(name.id):
                    assert isinstance(value, ast.Constant) and isinstance(value.value, str), ast.dump(node)
                    found.add(value.value)
    return found


def static_pks(tree: ast.Module) -> set[str]:
    return {
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword)
        and node.arg == "static_pk_value"
        and isinstance(node.value, ast.Constant)
    }


def literal_pks(tree: ast.Module) -> list[str]:
    """`{"pk": "some-literal", ...}`: a partition that is not a named constant."""
    return [
        value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key, value in zip(node.keys, node.values, strict=True)
        if isinstance(key, ast.Constant) and key.value == "pk" and isinstance(value, ast.Constant)
    ]


def code_partitions() -> dict[str, set[str]]:
    """Partition -> the modules (relative paths) that declare it."""
    declared: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for pk in constants(tree) | static_pks(tree):
            declared.setdefault(pk, set()).add(path.relative_to(ROOT).as_posix())
    return declared


def doc_partitions(text: str) -> dict[str, str]:
    """The first table's rows: pk -> the module it names."""
    rows: dict[str, str] = {}
    for line in text.split("## When the Lambda dies")[0].splitlines():
        match = ROW.match(line)
        if match:
            assert match["pk"] not in rows, f"{match['pk']} listed twice"
            rows[match["pk"]] = match["module"]
    return rows


def test_the_collector_finds_constants_tuples_and_static_pks() -> None:
    source = 'PARTITION, KEY = "digest", "last"\nLEASE_PARTITION = "lease"\nf(static_pk_value="idem")\n'
    tree = ast.parse(source)
    assert constants(tree) | static_pks(tree) == {"digest", "lease", "idem"}
    assert literal_pks(ast.parse('x = {"pk": "adhoc", "sk": k}\ny = {"pk": PARTITION}')) == ["adhoc"]


def test_every_partition_in_the_code_is_in_the_doc_and_no_other() -> None:
    code, doc = code_partitions(), doc_partitions(DOC.read_text())
    assert sorted(set(code) - set(doc)) == [], "partitions missing from docs/state-table.md"
    assert sorted(set(doc) - set(code)) == [], "docs/state-table.md lists partitions the code no longer has"


def test_the_doc_names_the_module_that_declares_each_partition() -> None:
    code, doc = code_partitions(), doc_partitions(DOC.read_text())
    wrong = {pk: (module, sorted(code[pk])) for pk, module in doc.items() if module not in code.get(pk, ())}
    assert wrong == {}


def test_every_partition_the_doc_lists_says_what_a_death_leaves() -> None:
    listed = set(doc_partitions(DOC.read_text()))
    deaths = DOC.read_text().split("## When the Lambda dies")[1]
    described = {m["pk"] for m in re.finditer(r"^\|\s*`(?P<pk>[^`]+)`\s*\|", deaths, re.MULTILINE)}
    assert described == listed


def test_no_module_writes_a_partition_that_is_not_a_named_constant() -> None:
    literal = {
        path.relative_to(ROOT).as_posix(): pks
        for path in sorted(PACKAGE.rglob("*.py"))
        if (pks := literal_pks(ast.parse(path.read_text())))
    }
    assert literal == {}
