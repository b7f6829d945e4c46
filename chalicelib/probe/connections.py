"""Sockets for the probe: DNS once per cycle, connects, and a small keep-alive pool per host.

Everything here runs on the probe loop (`chalicelib.probe.loop`); the attempt's own
`asyncio.timeout` bounds every await, so nothing here sets timeouts of its own.

>>> cycle = Cycle(Pool())
>>> conn = await cycle.connect("127.0.0.1", 8080, tls=None)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import errno
import functools
import ipaddress
import os
import socket
import ssl
import threading
import time
from typing import Optional

from chalicelib.probe.checks.tls import not_after
from chalicelib.probe.http1 import Response, ResponseParser
from chalicelib.probe.sessions import Sessions
from chalicelib.probe.tls_layer import TlsLayer

POOL_PER_HOST = 16  # idle keep-alive connections kept per (host, port, TLS settings)
IDLE_MAX = 45.0  # seconds: older idle connections are likely closed by the server already
UNREAD_MAX = 64 * 1024  # bytes kept that no exchange waits for, before reading pauses
RECEIVE_SIZE = 64 * 1024  # bytes read from a socket at once

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


@functools.lru_cache(maxsize=4096)
def _literal(host: str, port: int) -> Optional[Address]:
    """The address of an IP literal (parsed once: ipaddress is slow), None for a name."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.version == 6:
        return socket.AF_INET6, (host, port, 0, 0)
    return socket.AF_INET, (host, port)


_receiving = threading.local()  # one receive buffer per event loop thread


def _receive_buffer() -> memoryview:
    buffer = getattr(_receiving, "buffer", None)
    if buffer is None:
        buffer = _receiving.buffer = memoryview(bytearray(RECEIVE_SIZE))
    return buffer


class Connection(asyncio.BufferedProtocol):
    """One socket as an asyncio Protocol: bytes go straight to the HTTP parser of the exchange
    waiting on them, and a future resolves when the response is complete.

    A BufferedProtocol: the loop reads into one buffer its thread reuses (the transport calls
    `buffer_updated` right after the read), where a plain Protocol's transport allocates 256 KiB
    for every `recv` and shrinks it: 15 us per read of a small answer, a tenth of a probe's CPU.

    Not asyncio streams: a StreamReader resumes the reading coroutine for every header block,
    chunk and body piece, which was the largest share of a probe's CPU left. Here a response
    that arrives in one segment costs one `data_received` call and one future.

    `arrived` is when bytes last reached the socket: a response's latency ends there, not when
    its coroutine got its turn on a loop busy with hundreds of others (which would blame the
    endpoint for the probe's own queueing, and fail `max_response_time` falsely).
    """

    def __init__(self, key: PoolKey, tls: Optional[TlsLayer] = None) -> None:
        self.key = key
        self.tls = tls
        self.transport: Optional[asyncio.Transport] = None
        self.handshake: Optional[asyncio.Future[None]] = None  # set when TLS is up (tls only)
        self.cert_not_after: Optional[float] = None
        self.reused = False
        self.idle_since = 0.0
        self.arrived = 0.0
        self.closed = False  # the peer closed, or the connection was lost
        self._lost: Optional[Exception] = None
        self._parser: Optional[ResponseParser] = None
        self._answer: Optional[asyncio.Future[Response]] = None
        self._unread = bytearray()  # bytes no exchange waited for (the websocket check reads them)
        self._readable: Optional[asyncio.Future[None]] = None
        self._paused = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.tls is not None:
            self.handshake = asyncio.get_running_loop().create_future()
            transport.write(self.tls.start())  # type: ignore[attr-defined]

    def get_buffer(self, sizehint: int) -> memoryview:
        return _receive_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_receive_buffer()[:nbytes]))

    def data_received(self, data: bytes) -> None:
        self.arrived = time.monotonic()
        if self.tls is None:
            self._plain_received(data)
        else:
            self._tls_received(self.tls, data)

    def _tls_received(self, tls: TlsLayer, data: bytes) -> None:
        """Records in, plaintext on; a TLS failure fails the handshake or the exchange."""
        try:
            plain, out = tls.receive(data)
        except Exception as exc:  # ssl.SSLError: verification, alerts, corrupt records
            self.close()
            self._closed(exc)
            return
        if out:
            self.transport.write(out)  # type: ignore[union-attr]
        handshake = self.handshake
        if tls.handshaken and handshake is not None and not handshake.done():
            handshake.set_result(None)
        if plain:
            self._plain_received(plain)
        if tls.closed:  # close_notify: the same as the peer's EOF
            self._closed(None)

    def _plain_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:
            self._unread += data
            if len(self._unread) > UNREAD_MAX:
                self._pause()
            self._wake()
            return
        try:
            answer = parser.feed(data)
        except Exception as exc:  # a malformed response fails its exchange
            self._settle(exc)
            return
        if answer is not None:
            if not answer.reusable:
                self._pause()  # the rest of a body past the cap must not pile up unread
            self._settle(answer)

    def eof_received(self) -> bool:
        self._closed(None)
        return False  # let the transport close itself

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._closed(exc)

    # for the checks
    async def exchange(self, request: bytes, parser: ResponseParser) -> Response:
        """Send `request` and wait until `parser` has the whole response (or the close ends it)."""
        if self.closed:
            return parser.closed()
        self._parser = parser
        self._answer = answer = asyncio.get_running_loop().create_future()
        try:
            self.write(request)
            return await answer
        finally:
            self._parser = self._answer = None

    def write(self, data: bytes) -> None:
        if self.tls is not None:
            data = self.tls.encrypt(data)
        self.transport.write(data)  # type: ignore[union-attr]

    async def read(self) -> bytes:
        """Bytes received outside an HTTP exchange; b"" once the peer has closed."""
        while not self._unread:
            if self.closed:
                if self._lost is not None:
                    raise self._lost
                return b""
            self._readable = asyncio.get_running_loop().create_future()
            try:
                await self._readable
            finally:
                self._readable = None
        data = bytes(self._unread)
        self._unread.clear()
        if self._paused and self.transport is not None and not self.transport.is_closing():
            self._paused = False
            self.transport.resume_reading()
        return data

    def usable(self, now: float) -> bool:
        """Idle not too long, still open, and nothing arrived unasked (it would garble the next answer)."""
        transport = self.transport
        return (
            now - self.idle_since < IDLE_MAX
            and not self.closed
            and not self._unread
            and transport is not None
            and not transport.is_closing()
        )

    def close(self) -> None:
        """Drop at once: a probe never waits for a polite shutdown (TLS close_notify included)."""
        if self.transport is not None:
            self.transport.abort()

    def _settle(self, outcome: object) -> None:
        answer = self._answer
        self._parser = None
        if answer is None or answer.done():
            return
        if isinstance(outcome, BaseException):
            answer.set_exception(outcome)
        else:
            answer.set_result(outcome)  # type: ignore[arg-type]

    def _pause(self) -> None:
        """Stop reading: the event loop may otherwise read a fast sender's megabytes at once."""
        if not self._paused and self.transport is not None and not self.transport.is_closing():
            self._paused = True
            self.transport.pause_reading()

    def _closed(self, exc: Optional[Exception]) -> None:
        if self.closed:
            return
        self.closed = True
        self._lost = exc
        handshake = self.handshake
        if handshake is not None and not handshake.done():
            handshake.set_exception(exc or ConnectionResetError("closed during the TLS handshake"))
            handshake.exception()  # seen: the attempt may have timed out already
        parser = self._parser
        if parser is not None:
            if exc is not None and parser.received:
                self._settle(exc)
            else:
                try:
                    self._settle(parser.closed())
                except Exception as error:  # a close before the response ended
                    self._settle(error)
        self._wake()

    def _wake(self) -> None:
        if self._readable is not None and not self._readable.done():
            self._readable.set_result(None)


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
    """What the attempts of one cycle share: its DNS answers, its TLS sessions and the engine's pool."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.resolver = Resolver()
        self.sessions = Sessions()  # TLS: one full handshake per endpoint and cycle

    async def connect(self, host: str, port: int, tls: Optional[ssl.SSLContext]) -> Connection:
        """A new connection: each resolved address in turn until one connects."""
        last: Optional[OSError] = None
        for family, sockaddr in await self.resolver.addresses(host, port):
            try:
                conn = await self._open(family, sockaddr, tls, host, port)
            except ssl.SSLError:
                raise  # about the server's TLS, not this address
            except OSError as exc:
                last = exc
                continue
            if conn.tls is not None:
                conn.cert_not_after = not_after(conn.tls.ssl_object)
            return conn
        raise last or OSError("no address to connect to")

    async def _open(
        self, family: int, sockaddr: tuple, tls: Optional[ssl.SSLContext], host: str, port: int
    ) -> Connection:
        key = (host, port, tls)
        layer = None
        if tls is not None:
            session = await self.sessions.session_for(key)
            layer = TlsLayer(tls, host, session, functools.partial(self.sessions.keep, key))
        conn = Connection(key, layer)
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            sock = await _connected(loop, family, sockaddr)
            try:
                await loop.create_connection(lambda: conn, sock=sock)
            except BaseException:
                sock.close()
                raise
            if conn.handshake is not None:
                await conn.handshake
        except BaseException:
            conn.close()
            if layer is not None:
                self.sessions.failed(key)
            raise
        if layer is not None:
            self.sessions.handshaken(key, loop.time() - began)
        return conn


async def _connected(loop: asyncio.AbstractEventLoop, family: int, sockaddr: tuple) -> socket.socket:
    """A connected non-blocking socket to an address already resolved.

    Not `create_connection(host, port)`: that resolves the address again (twice) and waits
    through `sock_connect`, a quarter of a connection's CPU on a first cycle (measured: about
    200 us a connect that way, 155 us this way, of which the system calls are 55 us).
    """
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        code = sock.connect_ex(sockaddr)
        if code in (errno.EINPROGRESS, errno.EINTR):
            writable = loop.create_future()
            fd = sock.fileno()
            loop.add_writer(fd, _set_once, writable)
            try:
                await writable
            finally:
                loop.remove_writer(fd)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, os.strerror(code))  # OSError picks the subclass: ConnectionRefusedError...
    except BaseException:
        sock.close()
        raise
    return sock


def _set_once(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
