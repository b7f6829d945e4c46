"""The stand-in SSM agent runs restarts sent through moto's send_command, as the deployed document does.

The document's own script is run too, under `sh`, with `getent`, `runuser`, `pm2`, `systemctl`
and `docker` replaced by small scripts that behave as those tools do on a host (a PM2 daemon per
user's home, found through nvm or the login PATH): the agent must agree with it case by case.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.fleet import Fleet
from sandbox.provision import restart_document_content
from sandbox.ssm_agent import DEMO_USER, Host, InvalidParameters, SsmAgent, restart_action, run_restart


@pytest.fixture
def world(
    fleet: Fleet, aws_client: Callable[[str], Any]
) -> Iterator[tuple[Fleet, Any, dict[str, str], SsmAgent]]:
    ssm = aws_client("ssm")
    names = {d["Name"] for d in ssm.list_documents()["DocumentIdentifiers"]}
    if "autoheal-restart" not in names:
        ssm.create_document(
            Content=json.dumps(restart_document_content()),
            Name="autoheal-restart",
            DocumentType="Command",
            DocumentFormat="JSON",
        )
    ids = fleet.register_instances(aws_client("ec2"))
    agent = SsmAgent(ssm, fleet, ids, poll_interval=0.1, skip_existing=True)
    agent.start()
    yield fleet, ssm, ids, agent
    agent.stop()


def send(ssm: Any, instance_id: str, document: str, parameters: dict[str, list[str]]) -> str:
    response = ssm.send_command(DocumentName=document, InstanceIds=[instance_id], Parameters=parameters)
    return str(response["Command"]["CommandId"])


def test_restart_as_the_user_whose_daemon_runs_the_app_heals_a_hung_instance(world: Any) -> None:
    fleet, ssm, ids, agent = world
    fleet.fault("blue-1", "hang")
    green_pid = fleet.state("green-1")["pid"]
    parameters = {"service": ["web"], "manager": ["pm2"], "user": [DEMO_USER]}
    command_id = send(ssm, ids["blue-1"], "autoheal-restart", parameters)
    entries = agent.wait_for(command_id, timeout=10)
    assert [(e.instance, e.action, e.result, e.user) for e in entries] == [
        ("blue-1", "pm2 restart web", "ok", DEMO_USER)
    ]
    assert requests.get(fleet.url("blue-1") + "/healthz", timeout=2).json()["status"] == "ok"
    assert fleet.state("green-1")["pid"] == green_pid  # only the target restarted


@pytest.mark.parametrize(
    ("user", "result"),
    [
        ("ec2-user", "exit 1: [PM2][ERROR] Process or Namespace web not found"),
        ("root", "exit 1: [PM2][ERROR] Process or Namespace web not found"),
        ("nobody2", "exit 2: no such user: nobody2"),
    ],
)
def test_restart_as_another_user_fails_and_leaves_the_hung_app_alone(
    world: Any, user: str, result: str
) -> None:
    fleet, ssm, ids, agent = world
    fleet.fault("blue-1", "hang")
    pid = fleet.state("blue-1")["pid"]
    command_id = send(
        ssm, ids["blue-1"], "autoheal-restart", {"service": ["web"], "manager": ["pm2"], "user": [user]}
    )
    (entry,) = agent.wait_for(command_id, timeout=10)
    assert (entry.action, entry.result) == ("pm2 restart web", result)
    assert fleet.state("blue-1")["pid"] == pid


def test_pm2_without_a_user_fails_as_the_document_does(world: Any) -> None:
    fleet, ssm, ids, agent = world
    pid = fleet.state("blue-1")["pid"]
    command_id = send(ssm, ids["blue-1"], "autoheal-restart", {"service": ["web"], "manager": ["pm2"]})
    (entry,) = agent.wait_for(command_id, timeout=10)
    assert entry.result == "exit 2: pm2 needs a user: PM2 keeps one daemon per user"
    assert fleet.state("blue-1")["pid"] == pid


@pytest.mark.parametrize(
    "parameters",
    [
        {"service": ["web; reboot"], "manager": ["pm2"], "user": [DEMO_USER]},
        {"service": ["--help"], "manager": ["pm2"], "user": [DEMO_USER]},
        {"service": ["web"], "manager": ["pm2"], "user": ["-oProxyCommand"]},
    ],
)
def test_parameters_the_document_refuses_restart_nothing(
    world: Any, parameters: dict[str, list[str]]
) -> None:
    fleet, ssm, ids, agent = world
    pid = fleet.state("blue-1")["pid"]
    command_id = send(ssm, ids["blue-1"], "autoheal-restart", parameters)
    (entry,) = agent.wait_for(command_id, timeout=10)
    assert entry.result.startswith("rejected: ")
    assert fleet.state("blue-1")["pid"] == pid


def test_other_documents_are_recorded_and_do_nothing(world: Any) -> None:
    fleet, ssm, ids, agent = world
    pid = fleet.state("green-1")["pid"]
    command_id = send(ssm, ids["green-1"], "AWS-RunShellScript", {"commands": ["reboot"]})
    (entry,) = agent.wait_for(command_id, timeout=10)
    assert (entry.instance, entry.result) == ("green-1", "ran")
    assert fleet.state("green-1")["pid"] == pid


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"service": ["web"], "manager": ["systemd"]}, "systemctl restart -- web"),
        ({"service": ["api@1"], "manager": ["docker"]}, "docker restart -- api@1"),
        ({"service": ["web"], "manager": ["pm2"], "user": ["ubuntu"]}, "pm2 restart web"),
    ],
)
def test_restart_action_names_the_real_command(parameters: dict[str, list[str]], expected: str) -> None:
    assert restart_action(parameters) == expected


@pytest.mark.parametrize(
    "parameters",
    [
        {"service": ["web"], "manager": ["supervisord"]},
        {"service": ["$(id)"], "manager": ["pm2"]},
        {"service": ["-web"], "manager": ["pm2"]},
        {"service": ["a" * 65], "manager": ["pm2"]},
        {"service": ["web", "api"], "manager": ["pm2"]},
        {"service": ["web"], "manager": ["pm2"], "user": ["Root"]},
        {"service": ["web"], "manager": ["pm2"], "user": ["a" * 33]},
        {"service": ["web"], "manager": ["pm2"], "user": ["app\n"]},
        {"service": ["web"], "manager": ["pm2"], "extra": ["x"]},
        {"manager": ["pm2"]},
    ],
)
def test_restart_action_rejects_what_the_document_would(parameters: dict[str, list[str]]) -> None:
    with pytest.raises(InvalidParameters):
        restart_action(parameters)


# -- the document's own script, on a host made of stand-in tools ------------------------------------

HOST = Host(
    users=frozenset({"root", "ec2-user", "app", "ubuntu"}),
    pm2={"app": frozenset({"web"}), "ubuntu": frozenset({"api"})},
    units=frozenset({"nginx"}),
    user_units={"ubuntu": frozenset({"worker"})},
    containers=frozenset({"cache"}),
)
NVM_USERS = {"app"}  # pm2 under nvm; the others have it on their login PATH

TOOLS = {
    # getent exits 2 for an unknown key, as glibc's does.
    "getent": """[ "$1" = passwd ] && [ "$2" = -- ] || exit 9
line=$(grep "^$3:" "$HOSTDIR/passwd") || exit 2
echo "$line"
""",
    # runuser -u USER -- CMD...: the stand-in runs CMD as us, and says whom it was for.
    "runuser": """[ "$1" = -u ] && [ "$3" = -- ] || exit 9
echo "runuser $2" >> "$HOSTDIR/calls"
shift 3
exec "$@"
""",
    # One PM2 daemon per user: its process list lives under that user's home.
    "pm2": """[ "$1" = restart ] && [ $# = 2 ] || exit 9
if grep -qx -- "$2" "$HOME/.pm2/processes" 2>/dev/null; then
  echo "pm2 $USER $2" >> "$HOSTDIR/calls"
  echo "[PM2] Applying action restartProcessId on app [$2]"
else
  echo "[PM2][ERROR] Process or Namespace $2 not found" >&2; exit 1
fi
""",
    "systemctl": """scope=root; units="$HOSTDIR/units"
if [ "$1" = --user ]; then scope="$USER"; units="$HOME/.units"; shift; fi
[ "$1" = restart ] && [ "$2" = -- ] || exit 9
[ -n "${XDG_RUNTIME_DIR:-}" ] || [ "$scope" = root ] || exit 9
if grep -qx -- "$3" "$units" 2>/dev/null; then echo "systemctl $scope $3" >> "$HOSTDIR/calls"
else echo "Failed to restart $3.service: Unit $3.service not found." >&2; exit 5; fi
""",
    "docker": """[ "$1" = restart ] && [ "$2" = -- ] || exit 9
if grep -qx -- "$3" "$HOSTDIR/containers"; then echo "docker $3" >> "$HOSTDIR/calls"; echo "$3"
else echo "Error response from daemon: No such container: $3" >&2; exit 1; fi
""",
}


@pytest.fixture(scope="module")
def host_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("host")
    sbin, managers = root / "sbin", root / "managers"
    sbin.mkdir()
    managers.mkdir()
    for name, body in TOOLS.items():
        tool = (managers if name in ("pm2", "systemctl", "docker") else sbin) / name
        # The user's login environment has no HOSTDIR: the tools find the host beside themselves.
        tool.write_text(f'#!/bin/sh\nHOSTDIR="{root}"\n' + body)
        tool.chmod(0o755)
    passwd = []
    for uid, user in enumerate(sorted(HOST.users), start=1000):
        home = root / "home" / user
        (home / ".pm2").mkdir(parents=True)
        (home / ".pm2" / "processes").write_text("".join(f"{p}\n" for p in HOST.pm2.get(user, ())))
        (home / ".units").write_text("".join(f"{u}\n" for u in HOST.user_units.get(user, ())))
        profile = f'PATH="{managers}:$PATH"\n'
        if user in NVM_USERS:  # only nvm knows where its node and pm2 are
            (home / ".nvm").mkdir()
            (home / ".nvm" / "nvm.sh").write_text(profile)
        else:
            (home / ".bash_profile").write_text(profile)
        passwd.append(f"{user}:x:{uid}:{uid}::{home}:/bin/bash")
    (root / "passwd").write_text("\n".join(passwd) + "\n")
    (root / "units").write_text("".join(f"{u}\n" for u in HOST.units))
    (root / "containers").write_text("".join(f"{c}\n" for c in HOST.containers))
    return root


def run_document(host_dir: Path, parameters: dict[str, list[str]]) -> tuple[int, str, list[str]]:
    """Run the deployed script as SSM does: parameters as SSM_<name>, under sh, as root."""
    content = restart_document_content()
    script = "\n".join(content["mainSteps"][0]["inputs"]["runCommand"]) + "\n"
    env = {"PATH": f"{host_dir / 'sbin'}:{host_dir / 'managers'}:/usr/sbin:/usr/bin:/sbin:/bin"}
    for name, spec in content["parameters"].items():
        env[f"SSM_{name}"] = parameters[name][0] if name in parameters else spec.get("default", "")
    calls = host_dir / "calls"
    calls.unlink(missing_ok=True)
    done = subprocess.run(
        [shutil.which("sh") or "/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=20
    )
    # Login shells may print notices of their own: the tool's message is the last line.
    lines = (done.stdout + done.stderr).strip().splitlines()
    made = calls.read_text().splitlines() if calls.exists() else []
    return done.returncode, lines[-1] if lines else "", made


CASES = [
    ({"service": "web", "manager": "pm2", "user": "app"}, ["runuser app", "pm2 app web"]),
    ({"service": "api", "manager": "pm2", "user": "ubuntu"}, ["runuser ubuntu", "pm2 ubuntu api"]),
    ({"service": "web", "manager": "pm2", "user": "ec2-user"}, ["runuser ec2-user"]),
    ({"service": "web", "manager": "pm2", "user": "root"}, ["runuser root"]),
    ({"service": "web", "manager": "pm2", "user": "ghost"}, []),
    ({"service": "web", "manager": "pm2"}, []),
    ({"service": "nginx", "manager": "systemd"}, ["systemctl root nginx"]),
    ({"service": "worker", "manager": "systemd"}, []),
    (
        {"service": "worker", "manager": "systemd", "user": "ubuntu"},
        ["runuser ubuntu", "systemctl ubuntu worker"],
    ),
    ({"service": "cache", "manager": "docker"}, ["docker cache"]),
    ({"service": "web", "manager": "docker"}, []),
    ({"service": "cache", "manager": "docker", "user": "app"}, []),
]


@pytest.mark.skipif(shutil.which("bash") is None, reason="the document runs pm2 through a bash login shell")
@pytest.mark.parametrize(
    ("case", "calls"), CASES, ids=lambda v: "-".join(v.values()) if isinstance(v, dict) else ""
)
def test_the_agent_does_what_the_deployed_script_does(
    host_dir: Path, case: dict[str, str], calls: list[str]
) -> None:
    parameters = {key: [value] for key, value in case.items()}
    exit_code, last_line, made = run_document(host_dir, parameters)
    outcome = run_restart(parameters, HOST)
    assert made == calls
    assert (exit_code, last_line) == (outcome.exit_code, outcome.message)
