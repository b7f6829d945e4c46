"""The README stays short and points at every document; the two commands a newcomer needs stay."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_the_readme_keeps_the_two_commands_and_stays_short() -> None:
    text = README.read_text()
    assert "make demo   # sets up and runs the whole loop in the local world" in text
    assert "make test   # the whole test suite" in text
    assert len(text.encode()) <= 12_000


def test_every_document_is_in_both_maps() -> None:
    readme, contents = README.read_text(), (ROOT / "docs" / "README.md").read_text()
    for doc in sorted((ROOT / "docs").glob("*.md")):
        if doc.name == "README.md":
            continue
        assert f"(docs/{doc.name})" in readme, doc.name
        assert f"({doc.name})" in contents, doc.name
