"""The commands docs/configuration.md tells a person to type run, as written, from the project's
root (they check configs: no AWS is needed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.docs.shell_blocks import blocks

ROOT = Path(__file__).resolve().parents[2]


def test_every_shell_block_of_the_configuration_reference_runs() -> None:
    found = blocks((ROOT / "docs" / "configuration.md").read_text())
    assert found, "docs/configuration.md has no shell block to run"
    venv = str(ROOT / ".venv" / "bin")
    env = {"PATH": f"{venv}{os.pathsep}{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp")}
    for block in found:
        if block.not_run:
            continue
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block.code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"line {block.line}: {block.code}\n{done.stdout}\n{done.stderr}"
