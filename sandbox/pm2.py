"""The fleet's app under a real PM2 (the `pm2` npm package `make pm2` installs into .tools/).

Each host (sandbox.hosts) gives the app user a PM2 daemon of its own (``~/.pm2`` in that host's
home), reached the way users install it: npm's bin directory on the login PATH
(``~/.bash_profile``), or nvm's (only after ``. "$NVM_DIR/nvm.sh"``). The app is started with
``--no-autorestart``, so an instance that dies stays down until something restarts it, as the
scenarios need; everything else (pids, restart counts, messages, exit codes) is PM2's own.

>>> start_app(host, "web", ["/usr/bin/python3", "-m", "sandbox.fleet_app", ...], app_dir)  # doctest: +SKIP
>>> describe(host, "web")  # {"pid": 4242, "restarts": 0, "status": "online"}     # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Mapping

from sandbox.hosts import APP_USER, HOST_PATH, Host, unavailable

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS = REPO_ROOT / ".tools"
PM2 = TOOLS / "node_modules" / ".bin" / "pm2"
NVM_NODE = "versions/node/v20.0.0/bin"  # where nvm keeps the default node's binaries
CLI_TIMEOUT = 30.0
# A minimal nvm.sh: what sourcing nvm's own does for a shell (its default node's bin dir on PATH).
NVM_SH = """# nvm (minimal): the default node's binaries on PATH, as `. "$NVM_DIR/nvm.sh"` leaves them.
NVM_DIR="${{NVM_DIR:-$HOME/.nvm}}"
PATH="$NVM_DIR/{bin}:$PATH"
export NVM_DIR PATH
"""


class Pm2Error(RuntimeError):
    """A PM2 command the sandbox itself ran failed."""


def pm2_unavailable() -> str | None:
    """Why the fleet cannot run under PM2 here, or None."""
    if not PM2.exists():
        return f"pm2 is not installed in {PM2.parent} (make pm2)"
    if shutil.which("node", path=HOST_PATH) is None:
        return "node is not installed"
    return unavailable()


@functools.cache
def pm2_bin() -> Path:
    """pm2 where the app user can run it: in place, or (a checkout the user cannot reach, e.g.
    under /root) a copy in the temp dir, made once, as a host's global install would be."""
    test = ["runuser", "-u", APP_USER, "--", "test", "-x", str(PM2)]
    reachable = subprocess.run(test, capture_output=True, cwd="/")
    if reachable.returncode == 0:
        return PM2
    copy = (
        Path(tempfile.gettempdir()) / f"autoheal-pm2-{hashlib.sha256(str(TOOLS).encode()).hexdigest()[:12]}"
    )
    if not (copy / "node_modules" / ".bin" / "pm2").exists():
        staging = Path(tempfile.mkdtemp(prefix="autoheal-pm2-"))
        shutil.copytree(TOOLS / "node_modules", staging / "node_modules", symlinks=True)
        for path in (staging, *staging.rglob("*")):
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o755 if path.is_dir() else path.stat().st_mode | 0o444)
        with contextlib.suppress(OSError):  # another process made it meanwhile
            staging.rename(copy)
        shutil.rmtree(staging, ignore_errors=True)
    return copy / "node_modules" / ".bin" / "pm2"


def install(host: Host, way: str = "npm") -> None:
    """Put pm2 where the app user's login finds it: ``npm`` (the login PATH) or ``nvm``."""
    if way == "nvm":
        bin_dir = host.home / ".nvm" / NVM_NODE
        host.give(".nvm/nvm.sh", NVM_SH.format(bin=NVM_NODE))
        host.give(f".nvm/{NVM_NODE}/.keep", "")
        (bin_dir / "pm2").symlink_to(pm2_bin())
    elif way == "npm":
        host.give(".bash_profile", f'PATH="{pm2_bin().parent}:$PATH"\nexport PATH\n')
    else:
        raise ValueError(f"unknown pm2 install {way!r}: npm or nvm")


def run(host: Host, *args: str, user: str = APP_USER, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``pm2 ARGS`` as ``user`` on ``host`` (the sandbox's own control path, not the document's)."""
    home = host.user.pw_dir if user == APP_USER else "/root"
    env = [f"HOME={home}", f"USER={user}", f"LOGNAME={user}"]
    env.append(f"PATH={pm2_bin().parent}:{HOST_PATH}")
    argv = host.command(["runuser", "-u", user, "--", "env", "-i", *env, str(pm2_bin()), *args])
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd="/", stdin=subprocess.DEVNULL
    )
    if check and done.returncode != 0:
        raise Pm2Error(f"pm2 {' '.join(args)}: exit {done.returncode}: {(done.stderr or done.stdout)[-500:]}")
    return done


def start_app(
    host: Host,
    name: str,
    argv: list[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
) -> None:
    """``pm2 start`` the command ``argv`` as ``name`` (no interpreter: PM2 runs it as it is)."""
    options = ["--name", name, "--interpreter", "none", "--no-autorestart", "--cwd", str(cwd)]
    if log is not None:
        options += ["--log", str(log), "--time"]
    exports = [f"{key}={value}" for key, value in (env or {}).items()]
    home = host.user.pw_dir
    base = [f"HOME={home}", f"USER={APP_USER}", f"LOGNAME={APP_USER}", f"PATH={pm2_bin().parent}:{HOST_PATH}"]
    command = [
        "runuser",
        "-u",
        APP_USER,
        "--",
        "env",
        "-i",
        *base,
        *exports,
        str(pm2_bin()),
        "start",
        argv[0],
    ]
    command += [*options, "--", *argv[1:]]
    done = subprocess.run(
        host.command(command),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        cwd="/",
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise Pm2Error(f"pm2 start {name}: exit {done.returncode}: {(done.stderr or done.stdout)[-500:]}")


def jlist(host: Host, user: str = APP_USER) -> list[dict[str, Any]]:
    """``pm2 jlist``: every process the user's daemon on this host manages."""
    out = run(host, "jlist", user=user).stdout
    for line in reversed(out.splitlines()):  # after the banner of a daemon it had to spawn
        if line.startswith(("[{", "[]")):
            return list(json.loads(line))
    raise Pm2Error(f"pm2 jlist: no list in {out[-300:]!r}")


def describe(host: Host, name: str) -> dict[str, Any] | None:
    """PM2's pid, restart count and status of ``name``, or None if the daemon has no such process."""
    for process in jlist(host):
        if process.get("name") == name:
            env = process.get("pm2_env", {})
            return {
                "pid": process.get("pid"),
                "restarts": env.get("restart_time"),
                "status": env.get("status"),
            }
    return None


def kill_daemons(host: Host) -> None:
    """``pm2 kill`` every daemon started on this host (the app user's, and root's if a command
    started one); a daemon never outlives its host."""
    if (host.home / ".pm2" / "pm2.pid").exists():
        run(host, "kill", check=False)
    if (host.root_pm2 / "pm2.pid").exists():
        run(host, "kill", user="root", check=False)
