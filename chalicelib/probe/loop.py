"""The probe's one event loop per container, kept across warm invocations.

The loop runs on its own daemon thread, so `run()` stays synchronous for its callers and
callers on several threads (a runbook's `verify` beside a probe cycle) share one loop, one
connection pool and one DNS executor instead of each starting their own.

>>> submit(asyncio.sleep(0, result=42)).result(timeout=1)
42
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine, Optional, TypeVar

T = TypeVar("T")

DNS_THREADS = 8  # getaddrinfo blocks a thread: this bounds how many a stuck resolver can hold

_lock = threading.Lock()
_loop: Optional[asyncio.AbstractEventLoop] = None
_thread: Optional[threading.Thread] = None


def event_loop() -> asyncio.AbstractEventLoop:
    """The running probe loop, started on first use (and again if its thread ever died)."""
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            _loop = asyncio.new_event_loop()
            _loop.set_default_executor(
                concurrent.futures.ThreadPoolExecutor(DNS_THREADS, thread_name_prefix="probe-dns")
            )
            _thread = threading.Thread(target=_loop.run_forever, name="probe-loop", daemon=True)
            _thread.start()
        return _loop


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Schedule `coro` on the probe loop; wait on the returned future from any other thread."""
    return asyncio.run_coroutine_threadsafe(coro, event_loop())
