"""Probe kinds behind one interface (`Check`): http, websocket, tcp.

>>> checks = build_checks(new_session(4))
>>> sorted(checks)
['http', 'tcp', 'websocket']
"""

from __future__ import annotations

import requests

from chalicelib.probe.checks.base import Check, Outcome
from chalicelib.probe.checks.http import HttpCheck, new_session
from chalicelib.probe.checks.tcp import TcpCheck
from chalicelib.probe.checks.websocket import WebSocketCheck

__all__ = ["Check", "Outcome", "build_checks", "new_session"]


def build_checks(session: requests.Session) -> dict[str, Check]:
    """One check per Monitor.kind; http ones share `session`."""
    return {"http": HttpCheck(session), "websocket": WebSocketCheck(), "tcp": TcpCheck()}
