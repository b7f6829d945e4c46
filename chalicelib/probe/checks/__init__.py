"""Probe kinds behind one interface (`Check`), registered in `config.kinds.CHECKS`: http,
websocket, tcp (the order `monitors[].kind` names them in).

>>> sorted(build_checks())
['http', 'tcp', 'websocket']
"""

from __future__ import annotations

from chalicelib.config.kinds import CHECKS
from chalicelib.probe.checks.base import Check, CheckKind, Outcome, register

# Registered in the order `monitors[].kind` lists them in.
# isort: off
from chalicelib.probe.checks import http  # noqa: E402
from chalicelib.probe.checks import websocket  # noqa: E402
from chalicelib.probe.checks import tcp  # noqa: E402

# isort: on

__all__ = ["CHECKS", "Check", "CheckKind", "Outcome", "build_checks", "http", "register", "tcp", "websocket"]


def build_checks() -> dict[str, Check]:
    """One check per registered kind (`Monitor.kind`)."""
    return {name: kind() for name, kind in CHECKS.items()}  # type: ignore[abstract,misc]
