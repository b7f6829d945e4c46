"""`python -m sandbox` writes export lines; `autoheal_ops` works from a shell with nothing else."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoheal_ops.env_file import apply, parse

ROOT = Path(__file__).resolve().parents[2]
DEMO = "chalicelib/configs/demo.yaml"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[tuple[Path, str]]:
    """The demo world in a process of its own; yields (its env file, what it printed)."""
    here = tmp_path_factory.mktemp("world")
    env_file, log = here / "local.env", here / "local.log"
    command = [sys.executable, "-m", "sandbox", "--config", DEMO, "--tick", "3600"]
    command += ["--env-file", str(env_file), "--log", str(log)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if not line or line.startswith("running"):
                break
        yield env_file, "".join(lines)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def clean_ops(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    command = [sys.executable, "-m", "autoheal_ops", "--env-file", str(env_file), "--config", DEMO, *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90, check=False)


def test_the_printed_block_is_what_the_file_holds_and_names_every_config_variable(sandbox) -> None:
    env_file, printed = sandbox
    text = env_file.read_text()
    assert all(line in printed.splitlines() for line in text.splitlines()), printed
    values = parse(text)
    for name in set(re.findall(r"\$\{([A-Z0-9_]+)\}", (ROOT / DEMO).read_text())):
        assert name in values, name
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID"):
        assert name in values, name
    assert any(key.endswith("_CONTROL") for key in values), values
    assert not re.search(r"^probe ", printed, re.MULTILINE), "metrics lines belong in the log"


@pytest.mark.parametrize(
    "command",
    [
        ("status",),
        ("incidents",),
        ("notify-test",),
        ("maintenance", "off"),
        ("shift", "status", "--deployment", "web"),
    ],
)
def test_the_operator_command_runs_from_a_clean_shell_with_the_env_file(sandbox, command) -> None:
    done = clean_ops(sandbox[0], *command)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.startswith(("{", "[")), done.stdout


def test_an_exported_variable_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.env"
    path.write_text("export A='one two'\nexport B=file\n# note\n")
    environ = {"B": "shell"}
    assert apply(path, environ) == ["A"]
    assert environ == {"A": "one two", "B": "shell"}


def test_a_named_env_file_that_is_missing_exits_2(tmp_path: Path) -> None:
    done = clean_ops(tmp_path / "none.env", "status")
    assert done.returncode == 2
    assert done.stderr == f"{tmp_path / 'none.env'}: no such env file\n"
