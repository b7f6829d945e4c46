"""One "host" per fleet instance on this one machine: what a command sent to that instance sees.

Every instance runs its app as the same Linux user (``app``, the demo config's restart user),
under that user's own PM2 daemon, as on real hosts. On this machine they differ by that user's
home alone: each host has a directory of its own, bind-mounted over ``/home/app`` (and over
``/root/.pm2``) in a private mount namespace (``unshare -m``) for whatever runs "on" the host,
so ``pm2`` there reaches that host's daemon and no other. systemd and docker, which these
machines do not run, are kept as a model: small ``systemctl`` and ``docker`` scripts first on
the host's PATH, answering from the host's ``units`` and ``containers`` files as the real tools
do. Needs root (``useradd``, ``runuser``, ``mount``): :func:`unavailable` says why not.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

APP_USER = "app"
ROOT_PM2 = Path("/root/.pm2")
# What a login shell on a fresh host has: no /root, no virtualenv, no PM2 yet.
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

SYSTEMCTL = """#!/bin/sh
# A model of systemctl (these machines run no systemd): units listed in the host's files.
host="$(dirname "$(dirname "$0")")"; units="$host/units"; scope=system
if [ "${1:-}" = --user ]; then units="$host/user-units-$(id -un)"; scope=user; shift; fi
[ "${1:-}" = restart ] && [ "${2:-}" = -- ] && [ $# = 3 ] ||
  { echo "systemctl: unsupported: $*" >&2; exit 64; }
if [ "$scope" = user ] && [ ! -d "${XDG_RUNTIME_DIR:-/nonexistent}" ]; then
  echo "Failed to connect to bus: No medium found" >&2; exit 1
fi
if grep -qx -- "$3" "$units" 2>/dev/null; then echo "$scope $3" >> "$host/restarted"; exit 0; fi
echo "Failed to restart $3.service: Unit $3.service not found." >&2; exit 5
"""

DOCKER = """#!/bin/sh
# A model of the docker CLI (these machines run no docker): containers listed in the host's file.
host="$(dirname "$(dirname "$0")")"
[ "${1:-}" = restart ] && [ "${2:-}" = -- ] && [ $# = 3 ] || { echo "docker: unsupported: $*" >&2; exit 64; }
if grep -qx -- "$3" "$host/containers" 2>/dev/null; then
  echo "docker $3" >> "$host/restarted"; echo "$3"; exit 0
fi
echo "Error response from daemon: No such container: $3" >&2; exit 1
"""


def unavailable() -> str | None:
    """Why hosts cannot be made here, or None."""
    if os.geteuid() != 0:
        return "hosts need root (useradd, runuser, a mount namespace per host)"
    for tool in ("unshare", "runuser", "getent", "mount"):
        if shutil.which(tool, path=HOST_PATH) is None:
            return f"{tool} is not installed"
    return None


def ensure_user(name: str = APP_USER) -> pwd.struct_passwd:
    """The unprivileged user the app runs as, created if missing (home /home/<name>, empty:
    each host mounts its own over it)."""
    for _ in range(20):  # another test process may hold /etc/passwd's lock (useradd exits 10)
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            break
        useradd = ["useradd", "--home-dir", f"/home/{name}", "--no-create-home", "--shell", "/bin/bash"]
        done = subprocess.run([*useradd, "--user-group", name], capture_output=True, text=True)
        if done.returncode not in (0, 9, 10):  # 9: created meanwhile by another process
            raise RuntimeError(f"useradd {name}: {done.stderr.strip()}")
        time.sleep(0.1 if done.returncode == 10 else 0)
    else:
        raise RuntimeError(f"useradd {name}: /etc/passwd stayed locked")
    Path(entry.pw_dir).mkdir(parents=True, exist_ok=True)
    ROOT_PM2.mkdir(parents=True, exist_ok=True)
    return entry


@dataclass
class Host:
    """One instance's view of the machine, under ``root`` (a directory of its own)."""

    root: Path
    user: pwd.struct_passwd
    units: frozenset[str] = frozenset()
    user_units: dict[str, frozenset[str]] = field(default_factory=dict)
    containers: frozenset[str] = frozenset()

    @property
    def home(self) -> Path:
        """The app user's home on this host (seen there as /home/app)."""
        return self.root / "home"

    @property
    def root_pm2(self) -> Path:
        return self.root / "root-pm2"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def create(self) -> Host:
        for directory in (self.root, self.home, self.root_pm2, self.bin):
            directory.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o711)  # the app user reaches its home and the model's files
        os.chown(self.home, self.user.pw_uid, self.user.pw_gid)
        _write(self.bin / "systemctl", SYSTEMCTL, 0o755)
        _write(self.bin / "docker", DOCKER, 0o755)
        _write(self.root / "units", _lines(self.units), 0o644)
        _write(self.root / "containers", _lines(self.containers), 0o644)
        for user, units in self.user_units.items():
            _write(self.root / f"user-units-{user}", _lines(units), 0o644)
        return self

    def give(self, relative: str, text: str, mode: int = 0o644) -> Path:
        """A file in the app user's home, owned by that user (its profile, nvm.sh, ...)."""
        path = self.home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, text, mode)
        for part in [path, *path.relative_to(self.home).parents]:
            os.chown(self.home / part, self.user.pw_uid, self.user.pw_gid)
        return path

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run on this host: in a mount namespace where /home/app and /root/.pm2 are
        this host's, with the model's systemctl and docker first on PATH."""
        mounts = f"mount --bind {shlex.quote(str(self.home))} {shlex.quote(self.user.pw_dir)}"
        mounts += f" && mount --bind {shlex.quote(str(self.root_pm2))} {shlex.quote(str(ROOT_PM2))}"
        namespace = ["unshare", "--mount", "--propagation", "private"]
        return [*namespace, "sh", "-c", mounts + ' && exec "$@"', "host", *argv]

    def path(self) -> str:
        return f"{self.bin}:{HOST_PATH}"

    def restarted(self) -> list[str]:
        """What the systemctl and docker models restarted, in order."""
        log = self.root / "restarted"
        return log.read_text().splitlines() if log.exists() else []


def _lines(items: frozenset[str]) -> str:
    return "".join(f"{item}\n" for item in sorted(items))


def _write(path: Path, text: str, mode: int) -> None:
    path.write_text(text)
    path.chmod(mode)
