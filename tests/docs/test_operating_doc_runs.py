"""docs/operating.md, run: every ```sh block, in order, against the local world.

A copy of the repository (its tracked files) plays the person's checkout, and a fresh moto server
their empty account. The blocks run one by one with `bash -euo pipefail` in one shell session (the
variables a block sets reach the next ones, as when a person pastes them into one terminal), from
the first `make` to a deployed stack, `check --live` against it, an Invoke answered by the
functions, and the teardown; then the stack is gone. Each deploy path runs on its own account.

What the test does in the person's place, before the first block:
- the config edit of "Before either path" (the shipped dev.yaml probes the reserved
  example.com, which `check` refuses): the hosts become names of the test's own;
- the service autoheal watches, which exists before autoheal does: the load balancer, target
  groups and tagged instance that dev.yaml names;
- the chat webhook (`WEBHOOK_URL`, which the block asks for): a local receiver;
- Lambda's Invoke API for the sections that call the functions: moto runs no Lambda code, so
  the sandbox's runtime answers Invoke with the same handlers (sandbox/lambda_api.py), on the
  state the stack created.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sandbox.chat import ChatReceiver
from sandbox.moto_server import REGION, MotoServer
from sandbox.runtime import Runtime
from tests.docs.shell_blocks import Block, blocks

ROOT = Path(__file__).resolve().parents[2]
OPERATING = ROOT / "docs" / "operating.md"
STAGE = "dev"
# Sections whose commands call the functions: Invoke goes to the local runtime there, and to moto
# (where path 2's `chalice deploy` and `chalice delete` manage the functions) everywhere else.
INVOKING = ("The operator command", "A first canary", "Maintenance")
BLOCK_TIMEOUT = 300
STACKS = {"1": f"autoheal-{STAGE}", "2": f"autoheal-{STAGE}-resources"}  # what each path deploys
PLACEHOLDER_HOSTS = {"app.example.com": "app.autoheal.test", "db.internal.example.com": "db.autoheal.test"}


def test_every_block_but_a_marked_one_runs() -> None:
    found = blocks(OPERATING.read_text())
    skipped = [b for b in found if b.not_run]
    assert len(found) >= 10
    assert len(skipped) <= 1, [b.line for b in skipped]
    assert {b.path for b in found} == {None, "1", "2"}


@pytest.mark.world
@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("path", ["1", "2"])
def test_operating_doc_runs_from_an_empty_account_to_teardown(
    path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = copy_checkout(tmp_path / "checkout")
    with MotoServer() as aws, local_functions(aws, checkout, monkeypatch) as (lambda_url, runtime, chat):
        create_watched_service(aws)
        env = shell_env(aws, tmp_path, chat_url=chat.url)
        state = tmp_path / "shell-state.sh"
        state.write_text("")
        ran = []
        for block in blocks(OPERATING.read_text()):
            if block.not_run or block.path not in (None, path):
                continue
            run_block(block, checkout, env, state, lambda_url if block.section.startswith(INVOKING) else None)
            ran.append(block.section)
        assert "Teardown" in ran
        invoked = {i.function for i in runtime.invocations}
        assert {"maintenance", "shift_traffic"} <= invoked, invoked
        assert all(i.error is None for i in runtime.invocations), [i.error for i in runtime.invocations]
        assert chat.messages, "notify-test reached no chat webhook"
        stacks = {
            s["StackName"]: s["StackStatus"]
            for s in aws.client("cloudformation").list_stacks()["StackSummaries"]
        }
        assert stacks == {STACKS[path]: "DELETE_COMPLETE"}, stacks


def run_block(block: Block, checkout: Path, env: dict[str, str], state: Path, lambda_url: str | None) -> None:
    """One block in the session: the variables of earlier blocks in, its own out to `state`."""
    invoke = f"export AWS_ENDPOINT_URL_LAMBDA={lambda_url}" if lambda_url else "unset AWS_ENDPOINT_URL_LAMBDA"
    # allexport: what a block sets is exported, so `export -p` carries it to the next block
    script = f"set -a\nsource {state}\n{invoke}\n{block.code}export -p > {state}\n"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
    )
    assert done.returncode == 0, (
        f"docs/operating.md line {block.line} ({block.section}) exited {done.returncode}\n"
        f"{block.code}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )


def copy_checkout(target: Path) -> Path:
    """The repository's files as a clone holds them (tracked, or new and not ignored), the shared
    venv, and the person's config edit."""
    listed = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    tracked = subprocess.run(listed, cwd=ROOT, capture_output=True, check=True, text=True).stdout.split("\0")
    for name in filter(None, tracked):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to((ROOT / ".venv").resolve())
    config = target / "chalicelib" / "configs" / f"{STAGE}.yaml"
    text = config.read_text()
    for placeholder, own in PLACEHOLDER_HOSTS.items():
        text = text.replace(placeholder, own)
    config.write_text(text)
    return target


def create_watched_service(aws: MotoServer) -> None:
    """The dev config's service: web-alb:443 over web-blue/web-green, one instance tagged for it."""
    from autoheal_ops.iam import stage_config
    from sandbox.fleet import launch_instances
    from sandbox.provision import Member, provision_load_balancers

    ids = launch_instances(aws.client("ec2"), [("web-1", "blue")], stage=STAGE)
    provision_load_balancers(stage_config(STAGE).deployments, [Member(ids["web-1"], "blue", 80)])


@contextmanager
def local_functions(
    aws: MotoServer, checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Runtime, ChatReceiver]]:
    """The functions' handlers behind a local Invoke API, configured as the stage's Lambda is:
    its environment (names resolved for moto's account), the checkout's config, the chat receiver."""
    from autoheal_ops.render import resolve
    from autoheal_ops.stage import stage_environment
    from chalicelib import wiring
    from sandbox.lambda_api import LambdaApi
    from sandbox.world import load_app

    for key, value in aws.env().items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL_LAMBDA"):
        monkeypatch.delenv(key, raising=False)
    account = aws.client("sts").get_caller_identity()["Account"]
    for key, value in stage_environment(STAGE).items():
        monkeypatch.setenv(key, resolve(value, account, REGION))
    monkeypatch.setenv("AUTOHEAL_CONFIG", str(checkout / "chalicelib" / "configs" / f"{STAGE}.yaml"))
    wiring.reset()  # clients and config built for this moto and this config
    runtime = Runtime(load_app().app.handler_map, alarm_queue_url="")  # no alarms are delivered
    try:
        with ChatReceiver() as chat, LambdaApi(runtime) as api:
            yield api.url, runtime, chat
    finally:
        wiring.reset()


def shell_env(aws: MotoServer, tmp_path: Path, chat_url: str) -> dict[str, str]:
    """The person's shell: their PATH and HOME, credentials for the account (moto's), nothing else
    of this machine's AWS setup."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env.update(aws.env())
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-aws-config")
    env["WEBHOOK_URL"] = chat_url
    return env
