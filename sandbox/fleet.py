"""The fleet: one ``sandbox.fleet_app`` process per blue/green instance.

Each instance has an app port (what probes and the front door hit) and a control port
(faults), both on 127.0.0.1, kept across restarts. Process output goes to log files
in a temp dir, never the console.

Usage::

    from sandbox.fleet import Fleet

    with Fleet([("blue-1", "blue"), ("green-1", "green")]) as fleet:
        requests.get(fleet.url("blue-1") + "/healthz")       # {"status": "ok", "version": "v1", ...}
        fleet.fault("blue-1", "hang")                       # now it never answers
        fleet.restart("blue-1")                             # a new process: healthy
        fleet.fault("green-1", "error", sticky=True)        # survives restarts
        ids = fleet.register_instances(boto3.client("ec2")) # {"blue-1": "i-...", ...}

    # A version that is broken from its first request (the fault is sticky: restarts keep it):
    with Fleet([("blue-1", "blue"), ("green-1", "green")], broken={"v2": "error"}) as fleet:
        ...

    # Each instance a host of its own whose app user's PM2 runs the app (sandbox.hosts, sandbox.pm2);
    # green-1's user installed PM2 with nvm:
    with Fleet([("blue-1", "blue"), ("green-1", "green")], pm2=True, nvm={"green-1"}) as fleet:
        fleet.host("blue-1")                                # where commands to blue-1 run
        fleet.pm2_state("blue-1")                           # {"pid": ..., "restarts": 0, "status": "online"}
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Mapping, Sequence

from sandbox import pm2 as pm2_cli
from sandbox.fleet_app import MODES, Fault, save_sticky_fault
from sandbox.hosts import HOST_PATH, Host, ensure_user
from sandbox.ports import LOOPBACK, free_port
from sandbox.processes import http_status, terminate

# moto ships this AMI in its default image list, so run_instances accepts it even
# with MOTO_ENABLE_AMI_VALIDATION set.
DEFAULT_AMI = "ami-12c6146b"
REPO_ROOT = Path(__file__).resolve().parent.parent
HEALTHY_MODES = ("none", "slow", "degraded")  # modes in which /healthz answers 200
VERSIONS = {"blue": "v1", "green": "v2"}  # what each color serves unless told otherwise
# The EC2 tag that maps an instance in moto to its local process ("127.0.0.1:53817"): the
# sandbox's moto reads it to health-check targets, the front door to reach them.
ADDRESS_TAG = "sandbox:address"
APP_NAME = "web"  # the PM2 process name of the app on every host (the demo config restarts "web")
# What a host runs the app from: the app's own modules, copied (a host has no checkout or venv).
APP_FILES = ("__init__.py", "ports.py", "fleet_app.py")


class FleetError(RuntimeError):
    """An instance did not start, or the control port refused a request."""


@dataclass
class Instance:
    """One fleet member and its process; ports stay fixed for its whole life."""

    name: str
    color: str
    version: str
    port: int
    control_port: int
    state_file: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    instance_id: str | None = None  # its EC2 id in moto, once registered
    host: Host | None = None  # with pm2: the host whose app user's PM2 runs it
    lock: threading.Lock = field(default_factory=threading.Lock)


class Fleet:
    """Start, fault, restart and stop the app processes of a blue/green fleet.

    ``instances`` is a list of ``(name, color)`` or ``(name, color, version)``; the version
    defaults to ``VERSIONS[color]``. ``broken`` maps a version to a fault mode that its instances
    have from the start, sticky (restarts do not clear it). ``workdir`` holds logs and sticky
    state (a temp dir removed on stop when not given). ``start_timeout`` bounds how
    long :meth:`start` and :meth:`restart` wait for an instance to be healthy.
    """

    def __init__(
        self,
        instances: Sequence[tuple[str, ...]],
        workdir: str | Path | None = None,
        start_timeout: float = 10.0,
        broken: Mapping[str, str] | None = None,
        pm2: bool = False,
        nvm: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="autoheal-fleet-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_timeout = start_timeout
        self.pm2 = pm2
        self.nvm = frozenset(nvm)
        self._instances = {member[0]: self._plan(*member) for member in instances}
        for version, mode in (broken or {}).items():
            self._break_at_start(version, mode)

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> Fleet:
        """Spawn every instance and wait until each answers (or stop all, raise FleetError)."""
        try:
            for instance in self._instances.values():
                self._spawn(instance)
            for instance in self._instances.values():
                if not self._wait_started(instance):
                    raise FleetError(f"{instance.name} did not start; see {instance.log_path}")
        except BaseException:
            self._stop_processes()  # no half-started fleet is left behind
            raise
        return self

    def stop(self) -> None:
        """Stop every process; remove the workdir if the fleet created it."""
        self._stop_processes()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- per instance --------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self._instances)

    def instance(self, name: str) -> Instance:
        try:
            return self._instances[name]
        except KeyError:
            raise KeyError(f"no fleet instance named {name!r}") from None

    def url(self, name: str) -> str:
        """Base URL of the app, e.g. ``http://127.0.0.1:53817`` (no trailing slash)."""
        return f"http://{LOOPBACK}:{self.port(name)}"

    def port(self, name: str) -> int:
        return self.instance(name).port

    def color(self, name: str) -> str:
        return self.instance(name).color

    def version(self, name: str) -> str:
        return self.instance(name).version

    def address(self, name: str) -> str:
        """``127.0.0.1:<port>``: where the instance's app listens."""
        return f"{LOOPBACK}:{self.port(name)}"

    def names_serving(self, version: str) -> list[str]:
        return [i.name for i in self._instances.values() if i.version == version]

    def break_version(self, version: str, mode: str = "error") -> list[str]:
        """Give every instance of ``version`` a sticky fault now; return their names."""
        names = self.names_serving(version)
        if not names:
            raise FleetError(f"no instance serves version {version!r}; versions: {self._versions()}")
        for name in names:
            self.fault(name, mode, sticky=True)
        return names

    def is_alive(self, name: str) -> bool:
        instance = self.instance(name)
        if instance.host is not None:
            state = pm2_cli.describe(instance.host, APP_NAME)
            return state is not None and state["status"] == "online"
        process = instance.process
        return process is not None and process.poll() is None

    def state(self, name: str) -> dict[str, Any]:
        """The app's own view: mode, seconds, sticky, pid, started_at."""
        return self._control(self.instance(name), "GET", "/state")

    def fault(
        self,
        name: str,
        mode: str,
        seconds: float | None = None,
        sticky: bool = False,
    ) -> dict[str, Any]:
        """Set a fault (see ``sandbox.fleet_app.MODES``); return the app's state.

        ``die`` returns once the process has exited, so ``is_alive`` is then False.
        """
        instance = self.instance(name)
        query = {"sticky": "1"} if sticky else {}
        if seconds is not None:
            query["seconds"] = str(seconds)
        path = f"/fault/{urllib.parse.quote(mode)}"
        if query:
            path += "?" + urllib.parse.urlencode(query)
        state = self._control(instance, "POST", path)
        if mode == "die" and instance.process is not None:
            _wait_exit(instance.process, timeout=5.0)
        if mode == "die" and instance.host is not None:
            deadline = time.monotonic() + 5.0
            while self.is_alive(name) and time.monotonic() < deadline:
                time.sleep(0.1)
        return state

    def restart(self, name: str, timeout: float | None = None) -> bool:
        """Terminate and respawn on the same ports; True once /healthz answers 200.

        A non-sticky fault is gone (new process); a sticky one comes back, in which
        case this returns False after at most ``timeout`` (default start_timeout).
        """
        instance = self.instance(name)
        with instance.lock:  # two restarts of one instance must not interleave
            terminate(instance.process)  # (under pm2, `pm2 restart` does both)
            self._spawn(instance)
            return self._wait_healthy(instance, timeout or self.start_timeout)

    def kill(self, name: str) -> None:
        """Stop one instance without restarting it (an instance that is down)."""
        instance = self.instance(name)
        with instance.lock:
            terminate(instance.process)
            if instance.host is not None:
                pm2_cli.run(instance.host, "stop", APP_NAME)

    # -- moto ------------------------------------------------------------------

    def register_instances(self, ec2_client: Any, image_id: str = DEFAULT_AMI) -> dict[str, str]:
        """Create one EC2 instance in moto per fleet member; return name -> id.

        Tags: ``Name=<name>``, ``app=web``, ``color=<color>``, the stage tag and ``ADDRESS_TAG`` (its local
        address, which the sandbox's moto and front door read).
        """
        members = [(i.name, i.color) for i in self._instances.values()]
        addresses = {name: self.address(name) for name in self._instances}
        ids = launch_instances(ec2_client, members, image_id, addresses)
        for instance in self._instances.values():
            instance.instance_id = ids[instance.name]
        return ids

    def name_of(self, instance_id: str) -> str | None:
        """The fleet name registered under an EC2 instance id, if any."""
        for instance in self._instances.values():
            if instance.instance_id == instance_id:
                return instance.name
        return None

    # -- internals ---------------------------------------------------------------

    def _stop_processes(self) -> None:
        for instance in self._instances.values():
            terminate(instance.process)
            instance.process = None
            if instance.host is not None:
                pm2_cli.kill_daemons(instance.host)

    def _versions(self) -> list[str]:
        return sorted({i.version for i in self._instances.values()})

    def _break_at_start(self, version: str, mode: str) -> None:
        if mode not in MODES or mode == "none":
            raise FleetError(f"broken[{version!r}]: expected a fault mode of {MODES[1:]}, got {mode!r}")
        names = self.names_serving(version)
        if not names:
            raise FleetError(f"broken: no instance serves version {version!r}; versions: {self._versions()}")
        for name in names:  # the app reads its sticky fault from here when it starts
            save_sticky_fault(self.instance(name).state_file, Fault(mode, None, sticky=True))

    def _plan(self, name: str, color: str, version: str | None = None) -> Instance:
        if self.pm2:
            return self._plan_host(name, color, version)
        return Instance(
            name=name,
            color=color,
            version=version or VERSIONS.get(color, ""),
            port=free_port(),
            control_port=free_port(),
            state_file=self.workdir / f"{name}.state.json",
            log_path=self.workdir / f"{name}.log",
        )

    def _plan_host(self, name: str, color: str, version: str | None) -> Instance:
        """An instance on a host of its own; its state file in the app user's home."""
        self.workdir.chmod(0o711)  # the app user reaches its host's home and the app's files
        host = Host(self.workdir / "hosts" / name, ensure_user()).create()
        (self.workdir / "hosts").chmod(0o711)
        pm2_cli.install(host, "nvm" if name in self.nvm else "npm")
        return Instance(
            name=name,
            color=color,
            version=version or VERSIONS.get(color, ""),
            port=free_port(),
            control_port=free_port(),
            state_file=host.home / "state.json",
            log_path=host.home / f"{APP_NAME}.log",
            host=host,
        )

    def host(self, name: str) -> Host:
        """The host an instance runs on (with pm2)."""
        host = self.instance(name).host
        if host is None:
            raise FleetError(f"{name} runs without pm2: it has no host")
        return host

    def pm2_state(self, name: str) -> dict[str, Any] | None:
        """PM2's view of the app on the instance's host: pid, restarts, status."""
        return pm2_cli.describe(self.host(name), APP_NAME)

    def _app_dir(self) -> Path:
        """The app as a host runs it: its modules copied, readable by the app user."""
        app = self.workdir / "app"
        if not (app / "sandbox" / "fleet_app.py").exists():
            (app / "sandbox").mkdir(parents=True, exist_ok=True)
            for file in APP_FILES:
                shutil.copy(REPO_ROOT / "sandbox" / file, app / "sandbox" / file)
            for path in (app, app / "sandbox", *(app / "sandbox").iterdir()):
                path.chmod(0o755 if path.is_dir() else 0o644)
        return app

    def _arguments(self, instance: Instance) -> list[str]:
        command = ["-m", "sandbox.fleet_app", "--name", instance.name]
        command += ["--port", str(instance.port)]
        command += ["--control-port", str(instance.control_port)]
        command += ["--color", instance.color, "--state-file", str(instance.state_file)]
        return command + ["--version", instance.version]

    def _spawn_under_pm2(self, instance: Instance, host: Host) -> None:
        if instance.state_file.exists():  # a sticky fault the fleet wrote as root
            os.chown(instance.state_file, host.user.pw_uid, host.user.pw_gid)
        if pm2_cli.describe(host, APP_NAME) is not None:
            pm2_cli.run(host, "restart", APP_NAME)
            return
        python = shutil.which("python3", path=HOST_PATH) or sys.executable
        app = self._app_dir()
        env = {"PYTHONPATH": str(app), "PYTHONUNBUFFERED": "1"}
        pm2_cli.start_app(host, APP_NAME, [python, *self._arguments(instance)], app, env, instance.log_path)

    def _spawn(self, instance: Instance) -> None:
        if instance.host is not None:
            self._spawn_under_pm2(instance, instance.host)
            return
        command = [sys.executable, *self._arguments(instance)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # The child imports sandbox.* whatever the caller's working directory is.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
        )
        with open(instance.log_path, "ab") as log:
            instance.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _wait_started(self, instance: Instance, timeout: float | None = None) -> bool:
        """Wait until the control port answers: the process is up, whatever its mode."""
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while time.monotonic() < deadline:
            if instance.host is None and (instance.process is None or instance.process.poll() is not None):
                return False
            try:
                self._control(instance, "GET", "/state")
                return True
            except FleetError:
                time.sleep(0.05)
        return False

    def _wait_healthy(self, instance: Instance, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if not self._wait_started(instance, timeout):
            return False
        if self._control(instance, "GET", "/state")["mode"] not in HEALTHY_MODES:
            return False  # a sticky fault came back: no use waiting for health
        while time.monotonic() < deadline:
            remaining = max(0.1, deadline - time.monotonic())
            if http_status(f"{self.url(instance.name)}/healthz", remaining) == 200:
                return True
            time.sleep(0.05)
        return False

    def _control(self, instance: Instance, method: str, path: str) -> dict[str, Any]:
        url = f"http://{LOOPBACK}:{instance.control_port}{path}"
        request = urllib.request.Request(url, method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return dict(json.load(response))
        except urllib.error.HTTPError as err:
            raise FleetError(f"{instance.name}: {method} {path}: {err.read()!r}") from err
        except (urllib.error.URLError, OSError) as err:
            raise FleetError(f"{instance.name}: control port unreachable: {err}") from err


def launch_instances(
    ec2_client: Any,
    members: list[tuple[str, str]],
    image_id: str = DEFAULT_AMI,
    addresses: Mapping[str, str] | None = None,
    stage: str = "local",
) -> dict[str, str]:
    """One EC2 instance per (name, color), tagged Name, app=web, color and the stage tag the
    stage's policies require to act on it (and ADDRESS_TAG when ``addresses`` names it); returns
    name -> id. ``local`` is the local world's stage (sandbox.stack)."""
    from autoheal_ops.iam import stage_tag

    ids = {}
    for name, color in members:
        tags = {"Name": name, "app": "web", "color": color, **stage_tag(stage)}
        if addresses and name in addresses:
            tags[ADDRESS_TAG] = addresses[name]
        response = ec2_client.run_instances(
            ImageId=image_id,
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ],
        )
        ids[name] = response["Instances"][0]["InstanceId"]
    return ids


def _wait_exit(process: subprocess.Popen[bytes], timeout: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout)
