"""The benchmark commands the documents give stay runnable: each script exists and takes every flag
it is given there, and the one that is pure CPU and quick runs for real.

The others run for minutes against a whole local world: they are run by a person and their
figures land in docs/benchmarks.md; here their command lines are held to their scripts' options.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A command: `bench/<script>.py` and its arguments, up to a comment, a code span's end or a cell's
COMMAND = re.compile(r"bench/(?P<script>[a-z_]+\.py)(?P<args>(?:[ \t]+[^\s`|#)]+)*)")


def documented() -> list[tuple[str, str, str]]:
    """(document:line, script, arguments) for every benchmark command the documents give."""
    found = []
    for document in DOCUMENTS:
        for number, line in enumerate(document.read_text().splitlines(), 1):
            for match in COMMAND.finditer(line):
                found.append((f"{document.name}:{number}", match["script"], match["args"].strip()))
    return found


@functools.cache
def options(script: str) -> str:
    answer = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 0, f"{script} --help: {answer.stderr[-2000:]}"
    return answer.stdout


def test_the_documents_give_benchmark_commands() -> None:
    scripts = {script for _, script, _ in documented()}
    assert {"probe_invocation.py", "vantage_blind.py", "cost.py", "status_size.py"} <= scripts


@pytest.mark.parametrize(("where", "script", "args"), documented(), ids=lambda value: str(value))
def test_each_documented_command_names_a_script_and_its_options(where: str, script: str, args: str) -> None:
    assert (ROOT / "bench" / script).is_file(), f"{where}: no bench/{script}"
    for flag in re.findall(r"(?<!\S)--[a-z][a-z-]*", args):
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", options(script)), (
            f"{where}: bench/{script} takes no {flag}"
        )


def test_the_status_page_size_bench_runs_as_documented() -> None:
    answer = subprocess.run(
        [sys.executable, "bench/status_size.py", "--levels", "6", "9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert "[index.html within 50 KB]" in answer.stdout
    assert re.search(r"level 6: \d+ ms of CPU, [\d,]+ bytes", answer.stdout)
