"""A TCP proxy on 127.0.0.1 that can be told to drop or hang: one vantage point's road to the app.

Each region of the local world reaches the fleet through a proxy of its own, so one region can be
made blind while the others still see: `pass` forwards bytes both ways, `drop` resets every new
connection at once (an unreachable network), `hang` accepts and never answers (a blackhole: the
probe's timeout is what ends it). A change applies to connections made after it; `hang` also
silences open ones (they stay open, as a blackhole keeps them), and leaving it ends them.

>>> with FaultProxy(("127.0.0.1", 8080)) as proxy:  # doctest: +SKIP
...     proxy.mode = "hang"; requests.get(proxy.url("/healthz"), timeout=1)  # times out
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Optional

from sandbox.ports import LOOPBACK

MODES = ("pass", "drop", "hang")
CHUNK = 65536
POLL = 0.05


class FaultProxy:
    def __init__(self, upstream: tuple[str, int], port: int = 0) -> None:
        self.upstream = upstream
        self._mode = "pass"
        self._stopped = threading.Event()
        self.connections = 0  # accepted, in every mode: a blackhole still sees the knock
        self._listener = socket.create_server((LOOPBACK, port))
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def url(self, path: str = "/") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
        self._mode = mode

    def start(self) -> FaultProxy:
        self._listener.settimeout(0.2)  # here, not in the thread: a stop() may close it first
        self._thread = threading.Thread(target=self._accept, name=f"fault-proxy-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        try:
            self._listener.close()
        finally:
            if self._thread is not None:
                self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn, self._mode), daemon=True).start()

    def _serve(self, conn: socket.socket, mode: str) -> None:
        with conn:
            if mode == "drop":
                # SO_LINGER 0: close with a reset, as a refused or cut connection reads.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if mode == "hang":
                self._silence()
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                return
            with upstream:
                upstream.settimeout(None)
                back = threading.Thread(target=self._pipe, args=(upstream, conn), daemon=True)
                back.start()
                self._pipe(conn, upstream)
                back.join(5)

    def _silence(self) -> None:
        """Say nothing while the proxy hangs (the connection is closed after)."""
        while self._mode == "hang" and not self._stopped.wait(POLL):
            pass

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy until either side closes, or until the proxy turns to hang or stops."""
        source.settimeout(0.2)
        while not self._stopped.is_set():
            if self._mode == "hang":
                self._silence()
                break
            try:
                data = source.recv(CHUNK)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            if self._mode == "hang":  # turned while this read waited: the bytes go nowhere
                self._silence()
                break
            try:
                sink.sendall(data)
            except OSError:
                break
        with contextlib.suppress(OSError):  # the other side may be gone already
            sink.shutdown(socket.SHUT_WR)
