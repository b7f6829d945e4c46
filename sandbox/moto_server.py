"""moto in server mode, in a subprocess, on 127.0.0.1: the sandbox's AWS.

Every boto3 client honours ``AWS_ENDPOINT_URL``, so code under test needs no local
mode: point the environment at the server and it talks to "AWS".

Usage::

    from sandbox.moto_server import MotoServer

    with MotoServer() as aws:
        aws.apply_env()                    # this process's boto3 clients use moto
        subprocess.run(cmd, env={**os.environ, **aws.env()})   # and child processes
        boto3.client("sns").create_topic(Name="autoheal-alarms")

Run directly, ``python -m sandbox.moto_server -H 127.0.0.1 -p 5000`` is
``python -m moto.server`` with the fixes in :func:`patch_moto` applied.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from sandbox.ports import LOOPBACK, free_port
from sandbox.processes import http_status, terminate

REGION = "us-east-1"
_START_ATTEMPTS = 3  # a free port can be taken between free_port() and moto's bind
_PROFILE_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


class MotoServerError(RuntimeError):
    """moto did not come up (its log file path is in the message)."""


class MotoServer:
    """A moto server subprocess; a context manager that always stops it.

    ``port=None`` picks a free port. ``log_path`` receives moto's output (a temp
    file by default, so the console stays clean).
    """

    def __init__(
        self,
        port: int | None = None,
        log_path: str | Path | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self._wanted_port = port
        self.port = port or 0
        self._owns_log = log_path is None  # a temp log is removed after a clean stop
        self.log_path = Path(log_path) if log_path else _temp_log("moto-")
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._saved_env: dict[str, str | None] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment a boto3 process needs to use this server as AWS."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            # A session token from the real environment must not pair with these keys.
            "AWS_SESSION_TOKEN": "testing",
        }

    def apply_env(self) -> None:
        """Set :meth:`env` in ``os.environ``; :meth:`stop` puts the old values back."""
        if self._saved_env is None:
            keys = [*self.env(), *_PROFILE_VARS]
            self._saved_env = {key: os.environ.get(key) for key in keys}
        for key in _PROFILE_VARS:  # a named profile that is absent here breaks boto3
            os.environ.pop(key, None)
        os.environ.update(self.env())

    def reset(self) -> None:
        """Forget every resource (moto's own reset endpoint); the server keeps running."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> MotoServer:
        """Spawn moto and return once it answers HTTP; raise MotoServerError if not."""
        if self.is_running():
            return self
        attempts = 1 if self._wanted_port else _START_ATTEMPTS
        for _ in range(attempts):
            self.port = self._wanted_port or free_port()
            self._process = self._spawn()
            if self._wait_ready():
                return self
            self._terminate()
        self._owns_log = False  # keep the evidence
        raise MotoServerError(f"moto server did not start; see {self.log_path}")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (terminate, then kill) and restore the environment."""
        self._terminate(timeout)
        if self._owns_log:
            self.log_path.unlink(missing_ok=True)
        if self._saved_env is not None:
            _restore_env(self._saved_env)
            self._saved_env = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self) -> subprocess.Popen[bytes]:
        # Run this module rather than moto.server, so the child applies patch_moto().
        command = [sys.executable, "-m", "sandbox.moto_server", "-H", LOOPBACK]
        command += ["-p", str(self.port)]
        env = {k: v for k, v in os.environ.items() if k not in _PROFILE_VARS}
        env.update(self.env(), PYTHONPATH=_python_path())
        with open(self.log_path, "ab") as log:
            # The child keeps its own copy of the log descriptor.
            return subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                return False  # exited: most likely the port was taken
            if (http_status(f"{self.endpoint_url}/moto-api/") or 500) < 500:
                return True
            time.sleep(0.1)
        return False

    def _terminate(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        terminate(process, timeout)


def _temp_log(prefix: str) -> Path:
    handle, path = tempfile.mkstemp(prefix=prefix, suffix=".log")
    os.close(handle)
    return Path(path)


def _restore_env(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _python_path() -> str:
    """PYTHONPATH for a child that must import ``sandbox`` from any working dir."""
    root = str(Path(__file__).resolve().parent.parent)
    return os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)


def patch_moto() -> None:
    """Fix moto 5.2.5's SSM send_command so commands reach only their targets.

    moto adds the instances matched by ``Targets`` to ``InstanceIds``, but with no
    ``Targets`` it filters EC2 with no filter: *every* instance in the region lands
    in the command, and the sandbox agent would restart the whole fleet. Here, no
    Targets means none, and the real ``InstanceIds`` target key is understood.
    """
    from moto.ec2.models import ec2_backends
    from moto.ssm.models import Command

    def instance_ids_from_targets(self: Command) -> list[str]:
        if not self.targets:
            return []
        filters = {t["Key"]: t["Values"] for t in self.targets}
        ids = filters.pop("InstanceIds", [])
        if filters:
            backend = ec2_backends[self.account_id][self.backend_region]
            for reservation in backend.all_reservations(filters=filters):
                ids += [instance.id for instance in reservation.instances]
        return list(ids)

    Command._get_instance_ids_from_targets = instance_ids_from_targets  # type: ignore[method-assign]


if __name__ == "__main__":
    from moto.server import main

    patch_moto()
    main(sys.argv[1:])
