"""The sandbox's SSM agent runs the shipped documents' own scripts on hosts whose app runs under a
real PM2, and GetCommandInvocation answers what happened (status, exit code, output).

blue-1's app user has pm2 on its login PATH; green-1's installed it with nvm. Each host has its
own PM2 daemon; systemd and docker are the hosts' models (sandbox.hosts).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from sandbox import pm2 as pm2_cli
from sandbox.fleet import Fleet
from sandbox.moto_server import MotoServer
from sandbox.pm2 import pm2_unavailable
from sandbox.provision import document_properties
from sandbox.ssm_agent import DEMO_USER, SsmAgent

pytestmark = pytest.mark.skipif(pm2_unavailable() is not None, reason=str(pm2_unavailable()))

RESTART = "t-restart"
SCRATCH = "t-scratch"  # a document of the test's own, for what the shipped ones do not show


class World:
    def __init__(self, fleet: Fleet, ssm: Any, ids: dict[str, str], agent: SsmAgent) -> None:
        self.fleet, self.ssm, self.ids, self.agent = fleet, ssm, ids, agent

    def send(
        self, instance: str, parameters: dict[str, list[str]], document: str = RESTART
    ) -> dict[str, Any]:
        """Send, wait for the agent, and return GetCommandInvocation's answer."""
        command = self.ssm.send_command(
            DocumentName=document, InstanceIds=[self.ids[instance]], Parameters=parameters
        )
        command_id = command["Command"]["CommandId"]
        assert self.agent.wait_for(command_id, timeout=60), "the agent did not handle the command"
        return dict(self.ssm.get_command_invocation(CommandId=command_id, InstanceId=self.ids[instance]))

    def scratch(self, lines: list[str], timeout: int = 20, parameters: dict[str, Any] | None = None) -> None:
        content = {
            "schemaVersion": "2.2",
            "description": "test",
            "parameters": parameters or {},
            "mainSteps": [
                {
                    "action": "aws:runShellScript",
                    "name": "run",
                    "inputs": {"timeoutSeconds": str(timeout), "runCommand": lines},
                }
            ],
        }
        self.ssm.update_document(Name=SCRATCH, Content=json.dumps(content), DocumentVersion="$LATEST")
        version = self.ssm.describe_document(Name=SCRATCH)["Document"]["LatestVersion"]
        self.ssm.update_document_default_version(Name=SCRATCH, DocumentVersion=version)


@pytest.fixture(scope="module")
def world(aws: MotoServer) -> Iterator[World]:
    ssm = aws.client("ssm")
    content = document_properties("RestartDocument")["Content"]
    ssm.create_document(
        Name=RESTART, DocumentType="Command", DocumentFormat="JSON", Content=json.dumps(content)
    )
    ssm.create_document(
        Name=SCRATCH,
        DocumentType="Command",
        DocumentFormat="JSON",
        Content=json.dumps({"schemaVersion": "2.2", "description": "-", "mainSteps": []}),
    )
    fleet = Fleet([("blue-1", "blue"), ("green-1", "green"), ("blue-2", "blue")], pm2=True, nvm={"green-1"})
    with fleet:
        ids = fleet.register_instances(aws.client("ec2"))
        with SsmAgent(ssm, fleet, ids, poll_interval=0.1, skip_existing=True) as agent:
            yield World(fleet, ssm, ids, agent)


def pm2_restarts(world: World, instance: str) -> tuple[int, int]:
    state = world.fleet.pm2_state(instance)
    assert state is not None and state["status"] == "online"
    return state["pid"], state["restarts"]


@pytest.mark.parametrize("instance", ["blue-1", "green-1"], ids=["pm2-on-login-path", "pm2-under-nvm"])
def test_the_restart_document_restarts_the_hung_app_under_its_users_pm2(world: World, instance: str) -> None:
    world.fleet.fault(instance, "hang")
    pid, restarts = pm2_restarts(world, instance)
    other = "green-1" if instance == "blue-1" else "blue-1"
    others = pm2_restarts(world, other)
    invocation = world.send(instance, {"service": ["web"], "manager": ["pm2"], "user": [DEMO_USER]})
    assert (invocation["Status"], invocation["ResponseCode"]) == ("Success", 0)
    assert "[PM2] Applying action restartProcessId on app [web]" in invocation["StandardOutputContent"]
    new_pid, new_restarts = pm2_restarts(world, instance)
    assert new_pid != pid and new_restarts == restarts + 1
    assert world.fleet.state(instance)["pid"] == new_pid  # PM2's process is the app that answers
    assert requests.get(world.fleet.url(instance) + "/healthz", timeout=2).json()["status"] == "ok"
    assert pm2_restarts(world, other) == others  # only the target's host restarted anything


@pytest.mark.parametrize(
    ("parameters", "code", "message"),
    [
        # PM2's own answer: the app user's daemon manages no "api".
        (
            {"service": ["api"], "manager": ["pm2"], "user": [DEMO_USER]},
            1,
            "Process or Namespace api not found",
        ),
        # root's login has no pm2: the shell's answer.
        ({"service": ["web"], "manager": ["pm2"], "user": ["root"]}, 127, "pm2: not found"),
        ({"service": ["web"], "manager": ["pm2"], "user": ["nobody2"]}, 2, "no such user: nobody2"),
        ({"service": ["web"], "manager": ["pm2"]}, 2, "pm2 needs a user: PM2 keeps one daemon per user"),
        ({"service": ["web"], "manager": ["docker"], "user": [DEMO_USER]}, 2, "docker takes no user"),
    ],
    ids=["unmanaged-process", "root-without-pm2", "no-such-user", "no-user", "docker-with-user"],
)
def test_a_restart_that_cannot_work_fails_with_the_real_answer_and_restarts_nothing(
    world: World, parameters: dict[str, list[str]], code: int, message: str
) -> None:
    before = pm2_restarts(world, "blue-1")
    invocation = world.send("blue-1", parameters)
    assert (invocation["Status"], invocation["ResponseCode"]) == ("Failed", code)
    assert message in invocation["StandardErrorContent"]
    assert pm2_restarts(world, "blue-1") == before


def test_a_host_whose_pm2_daemon_is_not_running_answers_with_pm2s_own_message(world: World) -> None:
    # As after a reboot with no `pm2 startup`: the document's pm2 starts a daemon, which has no "web".
    pm2_cli.run(world.fleet.host("blue-2"), "kill")
    invocation = world.send("blue-2", {"service": ["web"], "manager": ["pm2"], "user": [DEMO_USER]})
    assert (invocation["Status"], invocation["ResponseCode"]) == ("Failed", 1), output(invocation)
    assert "[PM2] Spawning PM2 daemon" in invocation["StandardOutputContent"]
    assert "Process or Namespace web not found" in invocation["StandardErrorContent"]


def output(invocation: dict[str, Any]) -> str:
    return invocation["StandardOutputContent"] + invocation["StandardErrorContent"]


@pytest.mark.parametrize(
    ("parameters", "status", "restarted"),
    [
        ({"service": ["nginx"], "manager": ["systemd"]}, ("Success", 0), ["system nginx"]),
        ({"service": ["worker"], "manager": ["systemd"]}, ("Failed", 5), []),
        ({"service": ["cache"], "manager": ["docker"]}, ("Success", 0), ["docker cache"]),
        ({"service": ["web"], "manager": ["docker"]}, ("Failed", 1), []),
    ],
)
def test_systemd_and_docker_restarts_run_the_document_against_the_hosts_models(
    world: World, parameters: dict[str, list[str]], status: tuple[str, int], restarted: list[str]
) -> None:
    host = world.fleet.host("blue-1")
    host.units, host.containers = frozenset({"nginx"}), frozenset({"cache"})
    host.create()
    (host.root / "restarted").unlink(missing_ok=True)
    invocation = world.send("blue-1", parameters)
    assert (invocation["Status"], invocation["ResponseCode"]) == status
    assert host.restarted() == restarted


@pytest.mark.parametrize(
    "parameters",
    [
        {"service": ["web; reboot"], "manager": ["pm2"], "user": [DEMO_USER]},
        {"service": ["--help"], "manager": ["pm2"], "user": [DEMO_USER]},
        {"service": ["web"], "manager": ["supervisord"], "user": [DEMO_USER]},
        {"service": ["web"], "manager": ["pm2"], "user": ["-oProxyCommand"]},
        {"service": ["web"], "manager": ["pm2"], "user": [DEMO_USER], "extra": ["x"]},
        {"manager": ["pm2"], "user": [DEMO_USER]},
    ],
    ids=["service-injection", "service-option", "manager", "user-option", "undeclared", "missing"],
)
def test_parameters_ssm_refuses_fail_the_invocation_before_anything_runs(
    world: World, parameters: dict[str, list[str]]
) -> None:
    before = pm2_restarts(world, "blue-1")
    invocation = world.send("blue-1", parameters)
    assert (invocation["Status"], invocation["StatusDetails"]) == ("Failed", "InvalidParameters")
    assert invocation["StandardOutputContent"] == ""
    assert pm2_restarts(world, "blue-1") == before
    orchestration = world.agent.workdir / "blue-1" / "document" / "orchestration"
    assert not (orchestration / invocation["CommandId"]).exists()  # no script was even written


def test_parameters_reach_the_script_as_ssm_variables_and_braces_as_text(world: World) -> None:
    world.scratch(
        ['printf "%s|%s|%s\\n" "$SSM_word" "{{ word }}" "$0"'],
        parameters={"word": {"type": "String", "default": "x", "allowedPattern": "^[a-z ]+$"}},
    )
    invocation = world.send("blue-1", {"word": ["two words"]}, document=SCRATCH)
    word, braces, script = invocation["StandardOutputContent"].strip().split("|")
    assert (word, braces) == ("two words", "two words")
    assert script.endswith("/_script.sh")  # a script file, run by sh


def test_a_script_past_its_timeout_is_killed_with_its_whole_process_group(world: World) -> None:
    marker = world.fleet.host("blue-1").root / "child.pid"
    world.scratch([f"sleep 60 & echo $! > {marker}", "wait"], timeout=1)
    started = time.monotonic()
    invocation = world.send("blue-1", {}, document=SCRATCH)
    assert (invocation["Status"], invocation["StatusDetails"]) == ("TimedOut", "ExecutionTimedOut")
    assert time.monotonic() - started < 10
    assert not running(int(marker.read_text()))


def running(pid: int) -> bool:
    """Alive and not a zombie (this machine's init may reap orphans late)."""
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_output_is_kept_as_ssm_keeps_it_24000_characters_of_each_stream(world: World) -> None:
    world.scratch(
        ["head -c 30000 /dev/zero | tr '\\0' o", "head -c 25000 /dev/zero | tr '\\0' e >&2", "exit 3"]
    )
    invocation = world.send("blue-1", {}, document=SCRATCH)
    assert (invocation["Status"], invocation["ResponseCode"]) == ("Failed", 3)
    assert invocation["StandardOutputContent"] == "o" * 24000
    assert invocation["StandardErrorContent"] == "e" * 24000


def test_instances_run_their_commands_in_parallel_and_a_running_one_is_in_progress(world: World) -> None:
    world.scratch(
        ['if [ "$SSM_wait" = yes ]; then sleep 4; fi', "echo done"],
        parameters={"wait": {"type": "String", "allowedPattern": "^(yes|no)$"}},
    )
    slow = world.ssm.send_command(
        DocumentName=SCRATCH, InstanceIds=[world.ids["blue-1"]], Parameters={"wait": ["yes"]}
    )
    started = time.monotonic()
    quick = world.send("green-1", {"wait": ["no"]}, document=SCRATCH)
    assert quick["Status"] == "Success" and time.monotonic() - started < 3.5
    slow_id = slow["Command"]["CommandId"]
    running = world.ssm.get_command_invocation(CommandId=slow_id, InstanceId=world.ids["blue-1"])
    assert running["Status"] == "InProgress"
    assert world.agent.wait_for(slow_id, timeout=20)
    done = world.ssm.get_command_invocation(CommandId=slow_id, InstanceId=world.ids["blue-1"])
    assert (done["Status"], done["StandardOutputContent"]) == ("Success", "done\n")


def test_a_command_with_an_output_bucket_has_its_whole_output_there(world: World) -> None:
    s3 = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("s3", endpoint_url=world.ssm.meta.endpoint_url)
    s3.create_bucket(Bucket="t-command-output")
    world.scratch(["head -c 30000 /dev/zero | tr '\\0' o"])
    sent = world.ssm.send_command(
        DocumentName=SCRATCH,
        InstanceIds=[world.ids["blue-1"]],
        OutputS3BucketName="t-command-output",
        OutputS3KeyPrefix="diagnoses",
    )
    command_id = sent["Command"]["CommandId"]
    assert world.agent.wait_for(command_id, timeout=30)
    key = f"diagnoses/{command_id}/{world.ids['blue-1']}/awsrunShellScript/run/stdout"
    assert s3.get_object(Bucket="t-command-output", Key=key)["Body"].read() == b"o" * 30000
    invocation = world.ssm.get_command_invocation(CommandId=command_id, InstanceId=world.ids["blue-1"])
    assert len(invocation["StandardOutputContent"]) == 24000


def test_aws_owned_documents_are_not_run_on_this_machine(world: World) -> None:
    invocation = world.send("green-1", {"commands": ["reboot"]}, document="AWS-RunShellScript")
    assert invocation["Status"] == "Failed"
    assert "not run on this machine" in invocation["StandardErrorContent"]
