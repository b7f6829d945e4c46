"""Free TCP ports on the loopback interface.

Usage::

    from sandbox.ports import free_port

    port = free_port()  # e.g. 53817, free on 127.0.0.1 at the time of the call
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now.

    The OS picks it (bind to port 0). Another process may still take it before the
    caller binds, so callers that spawn servers should treat a bind failure as a retry.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])
