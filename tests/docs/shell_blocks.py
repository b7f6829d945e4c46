"""The ```sh blocks of a Markdown file, in order, with the markers the docs test honours.

A marker is an HTML comment on the line right before a block's fence:

- ``<!-- not-run: reason -->``: a person runs it, the test does not (the reason is required);
- ``<!-- path: 1 -->``: the block belongs to one deploy path; the test runs each path on its own.

>>> [b.section for b in blocks("## Deploy\\n<!-- path: 1 -->\\n```sh\\nmake\\n```\\n")]
['Deploy']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

FENCE = re.compile(r"^```sh\s*$")
MARKER = re.compile(r"^<!--\s*(?P<kind>not-run|path):\s*(?P<value>.*?)\s*-->\s*$")


class MarkerError(ValueError):
    """A marker the test cannot honour (a not-run without its reason, an unknown path)."""


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    section: str  # the nearest heading above it
    code: str
    not_run: Optional[str] = None
    path: Optional[str] = None


def blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    found: list[Block] = []
    section, i = "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        if FENCE.match(line):
            end = lines.index("```", i + 1)
            markers = _markers(lines[i - 1] if i else "", i + 1)
            code = "\n".join(lines[i + 1 : end]) + "\n"
            found.append(Block(i + 1, section, code, markers.get("not-run"), markers.get("path")))
            i = end
        i += 1
    return found


def _markers(previous: str, line: int) -> dict[str, str]:
    match = MARKER.match(previous.strip())
    if not match:
        return {}
    kind, value = match.group("kind"), match.group("value")
    if kind == "not-run" and not value:
        raise MarkerError(f"line {line}: a not-run block must say why")
    if kind == "path" and value not in ("1", "2"):
        raise MarkerError(f"line {line}: unknown path {value!r}")
    return {kind: value}
