"""The local world's settings: the `export` lines `python -m sandbox` writes, read back."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import MutableMapping

DEFAULT = Path(".autoheal-local.env")


def parse(text: str) -> dict[str, str]:
    """`export K=V` lines (values shell-quoted) to {K: V}; comments and blank lines skipped."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["export"]:
            words = words[1:]
        for word in words:
            key, sep, value = word.partition("=")
            if sep and key:
                found[key] = value
    return found


def apply(path: Path, environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Set what the file names and the environment lacks: an exported variable wins over the file.
    Returns the keys set."""
    values = parse(path.read_text())
    added = [key for key in values if key not in environ]
    environ.update({key: values[key] for key in added})
    return added
