"""The blue/green scenarios of `make demo`, through the front door with clients on it.

Scenario 3: a canary from blue (v1) to green (v2) that completes; every move is printed with
the weights read back from the listener.
Scenario 4: a canary to a green that breaks at its first step. The probe sees green DOWN, the
alarm reaches `on_alarm`, which rolls the shift back in that invocation; the front door's count
of which version served each request gives the broken version's share and the time from its
failure to the last request it served, sticky clients included.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from sandbox.world import World

DEPLOYMENT = "web"
STEP_INTERVAL = "2s"  # the demo's bake time per step (minutes on AWS)
ADVANCE_EVERY = 0.5  # seconds between `advance` ticks here (EventBridge's floor is a minute)
CLIENTS = 8
SESSION_REQUESTS = 10  # each client keeps its cookie this many requests, then a new visitor comes
RATE = 20.0  # requests per second per client, paced: a fast-failing target gets no more of them
MOVES = ("started", "moved", "promoted", "rolled back", "aborted")


@dataclass
class Clients:
    """Browsers on the front door: each keeps the ALB's cookies (so stays on its target group)
    for a session, then starts a new one. Which version answered is counted by the door."""

    url: str
    count: int = CLIENTS
    versions: dict[int, str] = field(default_factory=dict)  # client -> version that last answered

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self.browse, args=(i,), daemon=True) for i in range(self.count)
        ]

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(5)

    def pinned_to(self, version: str) -> int:
        return sum(1 for v in self.versions.values() if v == version)

    def browse(self, index: int) -> None:
        parts = urlsplit(self.url)
        cookies: dict[str, str] = {}
        done = 0
        due = time.monotonic()
        while not self.stopping.is_set():
            if done % SESSION_REQUESTS == 0:
                cookies = {}  # a new visitor
            done += 1
            try:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
                header = "; ".join(f"{k}={v}" for k, v in cookies.items())
                connection.request("GET", "/", headers={"Cookie": header} if header else {})
                response = connection.getresponse()
                response.read()
                self.versions[index] = response.getheader("X-App-Version") or ""
                for value in response.headers.get_all("Set-Cookie") or []:
                    jar = SimpleCookie()
                    jar.load(value)
                    cookies.update({name: morsel.value for name, morsel in jar.items()})
                connection.close()
            except OSError:
                pass  # the door going away at the end of the demo
            # Paced, not back to back: each visitor asks at its own rate whoever answers, so the
            # door's count is a share of requests, not of how fast each version answers.
            due = max(due + 1 / RATE, time.monotonic())
            self.stopping.wait(due - time.monotonic())


def shift(world: World, **payload: Any) -> dict[str, Any]:
    """Invoke `shift_traffic` as `aws lambda invoke` would; its answer (an error raises)."""
    invocation = world.runtime.invoke("shift_traffic", {"deployment": DEPLOYMENT, **payload})
    answer = invocation.result
    if invocation.error or not isinstance(answer, dict) or "error" in answer:
        raise RuntimeError(f"shift_traffic {payload.get('action')}: {invocation.error or answer}")
    return answer


def advance(world: World) -> Optional[dict[str, Any]]:
    from sandbox.runtime import scheduled_event

    result = world.runtime.invoke("advance", scheduled_event("advance")).result or {}
    found = [d for d in result.get("deployments", []) if d["deployment"] == DEPLOYMENT]
    return found[0] if found else None


def read_back(view: dict[str, Any]) -> str:
    return ", ".join(f"{name}={weight}" for name, weight in sorted(view["weights"].items()))


class MovePrinter:
    """Prints each new move of the deployment's history with the weights read back."""

    def __init__(self, say: Callable[[str], float]) -> None:
        self.say = say
        self.seen = 0

    def skip_history(self, view: dict[str, Any]) -> None:
        self.seen = len(view["history"])

    def show(self, view: dict[str, Any]) -> None:
        for entry in view["history"][self.seen :]:
            if entry["event"] in MOVES:
                detail = f" ({entry['detail']})" if entry.get("detail") else ""
                self.say(f"  {entry['event']} by {entry['by']}{detail}; read back: {read_back(view)}")
        self.seen = len(view["history"])


def scenario_canary(world: World, say: Callable[[str], float], limit: float = 30.0) -> int:
    """A canary blue -> green that completes. Returns the number of moves."""
    say(f"scenario 4: canary web-blue (v1) -> web-green (v2), steps 10/50/100, {STEP_INTERVAL} each")
    assert world.front_door is not None
    printer = MovePrinter(say)
    printer.skip_history(shift(world, action="status"))
    world.front_door.served.reset()
    with Clients(world.front_door.url("web-alb", 80)):
        view = shift(world, action="start", step_interval=STEP_INTERVAL)
        printer.show(view)
        ends = time.monotonic() + limit
        while view["state"] == "shifting" and time.monotonic() < ends:
            time.sleep(ADVANCE_EVERY)
            view = advance(world) or view
            printer.show(view)
    if view["state"] != "promoted":
        raise RuntimeError(f"the canary did not complete: {view['state']}")
    counts = world.front_door.served.counts()
    say(f"promoted: requests served during the shift: {counts}")
    return sum(1 for h in view["history"][-3:] if h["event"] in ("moved", "promoted"))


def back_to_blue(world: World, say: Callable[[str], float]) -> None:
    view = shift(world, action="start", to="web-blue", strategy="all_at_once")
    say(f"back to blue for the next scenario (all at once); read back: {read_back(view)}")


@dataclass(frozen=True)
class BrokenOutcome:
    share: float  # of all requests in the scenario that the broken version served
    served: int
    errors: int
    to_last_request: float  # seconds from its failure to the last request it served
    to_rollback: float  # seconds from its failure to the rollback, as seen by polling its status
    pinned: int  # sticky clients on the broken version when it failed


def scenario_broken_canary(world: World, say: Callable[[str], float], limit: float = 30.0) -> BrokenOutcome:
    """A canary to a green that breaks at its first step: on_alarm rolls it back."""
    say("scenario 5: canary to web-green; green breaks at 10%; nobody runs advance")
    assert world.front_door is not None and world.fleet is not None
    served = world.front_door.served
    printer = MovePrinter(say)
    printer.skip_history(shift(world, action="status"))
    with Clients(world.front_door.url("web-alb", 80)) as clients:
        served.reset()
        printer.show(shift(world, action="start", step_interval="1m"))
        time.sleep(2.0)  # visitors arrive; about one in ten is pinned to green by its cookie
        pinned = clients.pinned_to("v2")
        failed_at = time.time()
        world.fleet.break_version("v2", "error")
        say(f"green (v2) fails: every request it gets answers 500; {pinned} sticky clients on it")
        ends = time.monotonic() + limit
        view = shift(world, action="status")
        while view["state"] == "shifting" and time.monotonic() < ends:
            time.sleep(0.1)
            view = shift(world, action="status")
        rolled_seen_at = time.time()  # within 0.1 s of the rollback (history keeps whole seconds)
        printer.show(view)
        time.sleep(1.5)  # clients keep coming: none may reach v2 any more
    if view["state"] != "rolled_back":
        raise RuntimeError(f"the broken canary did not roll back: {view['state']}")
    tally = served.tally()
    broken = tally.get("v2")
    total = served.total()
    last = served.last_served("v2") or failed_at
    return BrokenOutcome(
        share=(broken.requests / total) if broken and total else 0.0,
        served=broken.requests if broken else 0,
        errors=broken.errors if broken else 0,
        to_last_request=max(0.0, last - failed_at),
        to_rollback=rolled_seen_at - failed_at,
        pinned=pinned,
    )
