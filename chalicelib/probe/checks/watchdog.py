"""Bounds a whole attempt, not just each socket read.

Socket timeouts apply per read, so a server trickling one byte at a time never trips
them. An `AttemptTimer` shuts the attempt's sockets down when its deadline passes,
which wakes any blocked read at once. One reaper thread serves every timer: a thread
per attempt costs a thread start (and a GIL hand-off) on every probe.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Callable, Optional

_local = threading.local()


class AttemptTimer:
    """Calls the registered stoppers when `timeout` seconds pass, unless finished first.

    >>> with AttemptTimer(5.0) as timer:
    ...     timer.on_expiry(lambda: None)
    >>> timer.expired
    False
    """

    def __init__(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self._fired = False
        self._done = False
        self._stoppers: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def __enter__(self) -> AttemptTimer:
        _local.timer = self
        _REAPER.add(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._done = True
            self._stoppers = []
        _local.timer = None

    @property
    def expired(self) -> bool:
        """True once the deadline has passed, even if the reaper has not come round yet."""
        return self._fired or time.monotonic() >= self.deadline

    def on_expiry(self, stop: Callable[[], None]) -> None:
        with self._lock:
            if not self._fired:
                self._stoppers.append(stop)
                return
        stop()  # already late: stop at once

    def watch(self, sock: Optional[socket.socket]) -> None:
        if sock is not None:
            self.on_expiry(lambda: shutdown(sock))

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._fired = True
            stoppers, self._stoppers = self._stoppers, []
        for stop in stoppers:
            stop()


class _Reaper:
    """One daemon thread expiring timers in deadline order; finished timers are
    dropped lazily when their deadline comes up."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, AttemptTimer]] = []
        self._order = itertools.count()
        self._thread: Optional[threading.Thread] = None

    def add(self, timer: AttemptTimer) -> None:
        with self._cond:
            heapq.heappush(self._heap, (timer.deadline, next(self._order), timer))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="probe-reaper", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is timer:
                self._cond.notify()  # a new earliest deadline

    def _loop(self) -> None:
        while True:
            with self._cond:
                due = self._next_due()
            if due is not None:
                due.expire()

    def _next_due(self) -> Optional[AttemptTimer]:
        if not self._heap:
            self._cond.wait()
            return None
        deadline, _, timer = self._heap[0]
        wait = deadline - time.monotonic()
        if wait > 0:
            self._cond.wait(wait)
            return None
        heapq.heappop(self._heap)
        return timer


_REAPER = _Reaper()


def current() -> Optional[AttemptTimer]:
    """The timer of the attempt running on this thread, if any."""
    return getattr(_local, "timer", None)


def shutdown(sock: Optional[socket.socket]) -> None:
    """Wake blocked readers of `sock`; safe from another thread, never raises."""
    if sock is None:
        return
    # The plain socket method: SSLSocket.shutdown would also drop its SSL object,
    # racing the reader thread that still uses it.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
