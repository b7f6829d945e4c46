"""Sockets for the probe: DNS once per cycle, connects, and a small keep-alive pool per host.

Everything here runs on the probe loop (`chalicelib.probe.loop`); the attempt's own
`asyncio.timeout` bounds every await, so nothing here sets timeouts of its own.

>>> cycle = Cycle(Pool())
>>> conn = await cycle.connect("127.0.0.1", 8080, tls=None)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Optional

from chalicelib.probe.checks.tls import not_after

POOL_PER_HOST = 16  # idle keep-alive connections kept per (host, port, TLS settings)
IDLE_MAX = 45.0  # seconds: older idle connections are likely closed by the server already
READ_LIMIT = 64 * 1024

Address = tuple[int, tuple]  # (family, sockaddr)
PoolKey = tuple[str, int, Optional[ssl.SSLContext]]


class Resolver:
    """Each (host, port) is looked up once per cycle, through the loop's bounded executor.

    Monitors on one host share the lookup: it is shielded, so the attempt that started it
    timing out does not cancel it for the others (each still waits only within its own
    deadline). A failure is shared the same way, for this cycle only.
    """

    def __init__(self) -> None:
        self._lookups: dict[tuple[str, int], asyncio.Future[list[Address]]] = {}

    async def addresses(self, host: str, port: int) -> list[Address]:
        literal = _literal(host, port)
        if literal is not None:
            return [literal]
        key = (host, port)
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = self._lookups[key] = asyncio.ensure_future(_getaddrinfo(host, port))
            lookup.add_done_callback(_consume)
        return await asyncio.shield(lookup)


async def _getaddrinfo(host: str, port: int) -> list[Address]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[Address] = []
    for family, _, _, _, sockaddr in infos:
        if (family, sockaddr) not in found:
            found.append((family, sockaddr))
    if not found:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    return found


def _consume(future: asyncio.Future) -> None:
    """Marks a shared lookup's failure as seen: every waiter may have timed out already."""
    if not future.cancelled():
        future.exception()


def _literal(host: str, port: int) -> Optional[Address]:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.version == 6:
        return socket.AF_INET6, (host, port, 0, 0)
    return socket.AF_INET, (host, port)


class TimedReader(asyncio.StreamReader):
    """A StreamReader that notes when bytes last arrived.

    A response's latency ends when its last byte reached the socket, not when its coroutine
    got its turn on a loop busy with hundreds of others (which would blame the endpoint for
    the probe's own queueing, and fail `max_response_time` falsely).
    """

    arrived = 0.0

    def feed_data(self, data: bytes) -> None:
        self.arrived = time.monotonic()
        super().feed_data(data)


@dataclass(eq=False)
class Connection:
    """An open stream and the certificate expiry seen at its handshake."""

    key: PoolKey
    reader: TimedReader
    writer: asyncio.StreamWriter
    cert_not_after: Optional[float] = None
    reused: bool = False
    idle_since: float = 0.0

    def usable(self, now: float) -> bool:
        return now - self.idle_since < IDLE_MAX and not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        """Drop at once: a probe never waits for a polite shutdown (TLS close_notify included)."""
        self.writer.transport.abort()


class Pool:
    """Idle keep-alive connections by (host, port, SSL context); newest first."""

    def __init__(self, per_host: int = POOL_PER_HOST) -> None:
        self.per_host = per_host
        self._idle: dict[PoolKey, list[Connection]] = {}

    def take(self, key: PoolKey) -> Optional[Connection]:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now):
                conn.reused = True
                return conn
            conn.close()
        return None

    def give(self, conn: Connection, reusable: bool) -> None:
        """Keep a connection whose exchange ended cleanly, or close it when the pool is full."""
        if reusable:
            idle = self._idle.setdefault(conn.key, [])
            if len(idle) < self.per_host:
                conn.idle_since = time.monotonic()
                idle.append(conn)
                return
        conn.close()

    def idle_count(self) -> int:
        return sum(len(idle) for idle in self._idle.values())


class Cycle:
    """What the attempts of one cycle share: its DNS answers and the engine's pool."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.resolver = Resolver()

    async def connect(self, host: str, port: int, tls: Optional[ssl.SSLContext]) -> Connection:
        """A new connection: each resolved address in turn until one connects."""
        last: Optional[OSError] = None
        for family, sockaddr in await self.resolver.addresses(host, port):
            try:
                reader, writer = await _open(sockaddr[0], port, family, tls, host)
            except ssl.SSLError:
                raise  # about the server's TLS, not this address
            except OSError as exc:
                last = exc
                continue
            expiry = None
            if tls is not None:
                expiry = not_after(writer.get_extra_info("ssl_object"))
            return Connection((host, port, tls), reader, writer, cert_not_after=expiry)
        raise last or OSError("no address to connect to")


async def _open(
    ip: str, port: int, family: int, tls: Optional[ssl.SSLContext], host: str
) -> tuple[TimedReader, asyncio.StreamWriter]:
    """asyncio.open_connection, with a TimedReader."""
    loop = asyncio.get_running_loop()
    reader = TimedReader(limit=READ_LIMIT, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await loop.create_connection(
        lambda: protocol, ip, port, family=family, ssl=tls, server_hostname=host if tls else None
    )
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)
