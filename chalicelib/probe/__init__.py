"""The probe engine: checks monitors (http, websocket, tcp) concurrently on one event loop, without AWS.

>>> from chalicelib.probe import ProbeEngine
>>> ENGINE = ProbeEngine(workers=64)  # module level, reused across invocations
>>> results = ENGINE.run(monitors, deadline=time.monotonic() + 20)  # doctest: +SKIP
"""

from chalicelib.probe.engine import ProbeEngine
from chalicelib.probe.result import ProbeResult

__all__ = ["ProbeEngine", "ProbeResult"]
