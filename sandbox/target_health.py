"""A target group's health check, run for real against a local process.

The sandbox's moto answers DescribeTargetHealth with this: it GETs the group's health-check path
on the target's local address and compares the status with the group's matcher, as an ALB's
health checker does, with ALB's reason codes. Results are kept ~1 s, so a caller polling
DescribeTargetHealth does not hammer the fleet.

>>> live_check("127.0.0.1:1", "/healthz", "200", timeout=0.5).state   # doctest: +SKIP
'unhealthy'
"""

from __future__ import annotations

import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

CACHE_SECONDS = 1.0
TIMEOUT_CAP = 1.0  # seconds: the sandbox's checks answer fast whatever the group says


@dataclass(frozen=True)
class Health:
    state: str  # healthy | unhealthy
    reason: str | None = None  # ALB's TargetHealth.Reason
    description: str | None = None


HEALTHY = Health("healthy")


def matches(status: int, matcher: str) -> bool:
    """ALB's HttpCode matcher: "200", "200,302", "200-299"."""
    for part in str(matcher).split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit() and int(low) <= status <= int(high or low):
            return True
    return False


def live_check(address: str, path: str, matcher: str, timeout: float) -> Health:
    """GET http://<address><path> once, as the ALB's health checker would."""
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", path or "/", headers={"User-Agent": "ELB-HealthChecker/2.0"})
        status = connection.getresponse().status
    except TimeoutError:
        return Health("unhealthy", "Target.Timeout", "Request timed out")
    except (OSError, http.client.HTTPException):
        return Health("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
    finally:
        connection.close()
    if matches(status, matcher):
        return HEALTHY
    return Health(
        "unhealthy", "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{status}]"
    )


class HealthCache:
    """Live checks shared by every caller for CACHE_SECONDS; several targets are checked at once."""

    def __init__(self, ttl: float = CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str, str], tuple[float, Health]] = {}

    def check_all(self, checks: list[tuple[str, str, str, float]]) -> list[Health]:
        """``checks`` are (address, path, matcher, timeout); answers come back in the same order."""
        if not checks:
            return []
        with ThreadPoolExecutor(max_workers=min(8, len(checks))) as pool:
            return list(pool.map(lambda c: self.check(*c), checks))

    def check(self, address: str, path: str, matcher: str, timeout: float) -> Health:
        key = (address, path, matcher)
        with self._lock:
            cached = self._seen.get(key)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        health = live_check(address, path, matcher, min(timeout, TIMEOUT_CAP))
        with self._lock:
            self._seen[key] = (time.monotonic(), health)
        return health
