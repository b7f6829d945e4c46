"""Probe kinds behind one interface (`Check`): http, websocket, tcp.

>>> sorted(build_checks())
['http', 'tcp', 'websocket']
"""

from __future__ import annotations

from chalicelib.probe.checks.base import Check, Outcome
from chalicelib.probe.checks.http import HttpCheck
from chalicelib.probe.checks.tcp import TcpCheck
from chalicelib.probe.checks.websocket import WebSocketCheck

__all__ = ["Check", "Outcome", "build_checks"]


def build_checks() -> dict[str, Check]:
    """One check per Monitor.kind."""
    return {"http": HttpCheck(), "websocket": WebSocketCheck(), "tcp": TcpCheck()}
