"""The suite's own lists name what exists: a renamed file or test would silently drop out of the
slow lane's exclusion or the longest-first order."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import LONGEST_FIRST, SLOW, WORLD_FILES

ROOT = Path(__file__).resolve().parent.parent


def test_every_longest_first_file_exists_once() -> None:
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    assert [path for path in LONGEST_FIRST if not (ROOT / path).is_file()] == []


def test_every_slow_entry_names_a_file_and_a_test_in_it() -> None:
    missing = []
    for entry in SLOW:
        path, _, test = entry.partition("::")
        source = (ROOT / path).read_text() if (ROOT / path).is_file() else None
        if source is None or (test and not re.search(rf"def {re.escape(test)}", source)):
            missing.append(entry)
    assert missing == []


def test_every_world_path_exists() -> None:
    assert [path for path in WORLD_FILES if not (ROOT / path).exists()] == []
