"""A real Redis/Valkey Sentinel set on loopback: a primary, a replica, three sentinels (quorum 2).

With ``spare=True`` a second replica (``spare``) too: then a replica's priority decides who is
elected, as in a set of three.

Debian's ``redis-server`` and ``redis-sentinel`` (or ``valkey-server``, which keeps the protocol),
each process with its own config file in a temp dir and a free port; nothing of the system's
services is used. The valkey-promote document is run against it (tests/sandbox).

>>> with SentinelSet() as valkey:                         # doctest: +SKIP
...     valkey.primary()                                  # ("127.0.0.1", 41234)
...     valkey.ports["green"]                             # the replica's port
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from sandbox.ports import LOOPBACK, free_port
from sandbox.processes import terminate

MASTER = "mymaster"
QUORUM = 2


def binaries() -> dict[str, str] | None:
    """The server, sentinel and cli binaries, or None when they are not installed."""
    found = {}
    for role, names in {
        "server": ("valkey-server", "redis-server"),
        "sentinel": ("valkey-sentinel", "redis-sentinel"),
        "cli": ("valkey-cli", "redis-cli"),
    }.items():
        path = next((p for p in map(shutil.which, names) if p), None)
        if path is None:
            return None
        found[role] = path
    return found


class SentinelSet:
    """``blue`` starts as the primary, ``green`` as its replica; sentinels watch ``mymaster``."""

    def __init__(self, start_timeout: float = 30.0, spare: bool = False) -> None:
        tools = binaries()
        if tools is None:
            raise RuntimeError("redis-server, redis-sentinel and redis-cli are not installed")
        self.tools = tools
        self.dir = Path(tempfile.mkdtemp(prefix="autoheal-valkey-"))
        self.ports = {"blue": free_port(), "green": free_port(), **({"spare": free_port()} if spare else {})}
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.start_timeout = start_timeout
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> SentinelSet:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self.stop()

    def start(self) -> SentinelSet:
        blue = self.ports["blue"]
        self._spawn(self.tools["server"], "blue", self._server_conf("blue", blue))
        for name, port in self.ports.items():
            if name != "blue":
                self._spawn(self.tools["server"], name, self._server_conf(name, port, replica_of=blue))
        for port in self.replica_ports(blue):
            self._wait(lambda port=port: "connected" in self.cli(port, "ROLE"))
        for index, port in enumerate(self.sentinel_ports):
            self._spawn(self.tools["sentinel"], f"sentinel-{index}", self._sentinel_conf(index, port, blue))
        self._wait(self._sentinels_agree)
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            terminate(process)
        self.processes.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- asking ------------------------------------------------------------------------------

    def cli(self, port: int, *args: str) -> str:
        done = subprocess.run(
            [self.tools["cli"], "-h", LOOPBACK, "-p", str(port), *args],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return done.stdout.strip()

    def replica_ports(self, primary: int) -> list[int]:
        return [port for port in self.ports.values() if port != primary]

    def priority(self, port: int) -> int:
        return int(self.cli(port, "CONFIG", "GET", "replica-priority").splitlines()[1])

    def primary(self, sentinel: int = 0) -> tuple[str, int]:
        """What a sentinel answers for the primary's address."""
        host, port = self.cli(
            self.sentinel_ports[sentinel], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER
        ).split()
        return host, int(port)

    def wait_settled(self, port: int) -> None:
        """Until every sentinel names ``port`` as the primary and sees the other as its replica."""
        self._wait(lambda: all(self.primary(i)[1] == port for i in range(3)) and self._sentinels_agree())

    # -- internals ---------------------------------------------------------------------------

    def _server_conf(self, name: str, port: int, replica_of: int | None = None) -> Path:
        lines = [f"port {port}", f"bind {LOOPBACK}", f"dir {self.dir}", f"dbfilename {name}.rdb"]
        lines += ['save ""', "appendonly no", f"logfile {self.dir / name}.log"]
        if replica_of is not None:
            lines.append(f"replicaof {LOOPBACK} {replica_of}")
        return self._write(f"{name}.conf", lines)

    def _sentinel_conf(self, index: int, port: int, primary: int) -> Path:
        lines = [
            f"port {port}",
            f"bind {LOOPBACK}",
            f"dir {self.dir}",
            f"logfile {self.dir}/sentinel-{index}.log",
        ]
        lines += [f"sentinel monitor {MASTER} {LOOPBACK} {primary} {QUORUM}"]
        lines += [
            f"sentinel down-after-milliseconds {MASTER} 3000",
            f"sentinel failover-timeout {MASTER} 10000",
        ]
        return self._write(f"sentinel-{index}.conf", lines)

    def _write(self, name: str, lines: list[str]) -> Path:
        path = self.dir / name
        path.write_text("\n".join(lines) + "\n")
        return path

    def _spawn(self, binary: str, name: str, conf: Path) -> None:
        with open(self.dir / f"{name}.out", "ab") as out:
            self.processes.append(
                subprocess.Popen(
                    [binary, str(conf)], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            )

    def _sentinels_agree(self) -> bool:
        """Each sentinel knows the two others and one replica that is up."""
        for port in self.sentinel_ports:
            info = self.cli(port, "SENTINEL", "MASTER", MASTER).splitlines()
            fields = dict(zip(info[::2], info[1::2], strict=False))
            if fields.get("num-other-sentinels") != "2" or fields.get("num-slaves") != str(
                len(self.ports) - 1
            ):
                return False
            primary = int(fields.get("port", 0))
            if self._replicas(port) != {p: "slave" for p in self.replica_ports(primary)}:
                return False
        return True

    def _replicas(self, sentinel: int) -> dict[int, str]:
        """The replicas a sentinel lists, by port, with their flags."""
        listed = self.cli(sentinel, "SENTINEL", "REPLICAS", MASTER).splitlines()
        replicas, port = {}, 0
        for key, value in zip(listed[::2], listed[1::2], strict=False):
            if key == "port":
                port = int(value)
            elif key == "flags":
                replicas[port] = value
        return replicas

    def _wait(self, condition: object) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            try:
                if condition():  # type: ignore[operator]
                    return
            except (ValueError, IndexError, subprocess.SubprocessError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the Sentinel set did not settle; logs in {self.dir}")
