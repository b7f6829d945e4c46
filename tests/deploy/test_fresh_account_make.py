"""`make package` before a first deploy: stale policies say how to fix them, example endpoints refuse."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from autoheal_ops.package import refusals
from autoheal_ops.stage import ROOT


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_stale_policy_says_to_run_make_policies(tmp_path: Path) -> None:
    for name in ("app.py", "autoheal_ops", "chalicelib", ".chalice"):  # a copy: the real files stay
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source, tmp_path / name)
    fresh = run(sys.executable, "-m", "autoheal_ops.iam", "--check", cwd=tmp_path)
    assert (fresh.returncode, fresh.stdout) == (0, "policies up to date\n"), fresh.stderr
    (tmp_path / ".chalice" / "policy-prod-probe.json").write_text("{}\n")
    stale = run(sys.executable, "-m", "autoheal_ops.iam", "--check", cwd=tmp_path)
    assert stale.returncode == 1
    assert stale.stdout == (
        "policy-prod-probe.json: out of date\n"
        "run `make policies` (python -m autoheal_ops.iam) to regenerate them, then commit them\n"
    )


def test_packaging_refuses_the_shipped_example_endpoints_unless_asked() -> None:
    done = run(sys.executable, "-m", "autoheal_ops.package", "--stage", "prod")
    assert done.returncode == 2 and done.stdout == ""
    assert "monitors[0].url: app.example.com is the shipped example: name your own endpoint" in done.stderr
    assert done.stderr.endswith(
        "not packaged: fix chalicelib/configs/prod.yaml (or, for a trial of the shipped example,"
        " make package EXAMPLE=1)\n"
    )
    assert refusals("prod", allow_example=True) == []  # the names themselves are the stage's


def test_make_package_runs_the_check_and_example_1_is_the_escape() -> None:
    plain = run("make", "-n", "package", "STAGE=prod").stdout
    assert "-m autoheal_ops.package --stage prod" in plain
    assert "--allow-example-endpoints" not in plain
    trial = run("make", "-n", "package", "STAGE=prod", "EXAMPLE=1").stdout
    assert "-m autoheal_ops.package --stage prod --allow-example-endpoints\n" in trial
