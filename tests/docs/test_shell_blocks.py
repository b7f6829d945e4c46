"""How the docs test reads a document's shell blocks and their markers."""

from __future__ import annotations

import pytest

from tests.docs.shell_blocks import MarkerError, blocks

DOC = """# Guide

## Deploy

<!-- path: 2 -->
```sh
make package
```

```python
not = "a shell block"
```

## Local

<!-- not-run: it runs until Ctrl-C -->
```sh
python -m sandbox
```
"""


def test_blocks_come_in_order_with_their_section_and_markers() -> None:
    found = blocks(DOC)
    assert [(b.section, b.code, b.path, b.not_run) for b in found] == [
        ("Deploy", "make package\n", "2", None),
        ("Local", "python -m sandbox\n", None, "it runs until Ctrl-C"),
    ]
    assert found[0].line == 6


@pytest.mark.parametrize("marker", ["<!-- not-run: -->", "<!-- path: 3 -->"])
def test_a_marker_without_its_reason_or_with_an_unknown_path_is_refused(marker: str) -> None:
    with pytest.raises(MarkerError):
        blocks(f"## Deploy\n{marker}\n```sh\nmake\n```\n")
