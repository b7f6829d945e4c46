"""What an ALB decides for one request, from a listener's rules: pure, no I/O.

The front door (``sandbox.front_door``) reads listeners, rules and target groups from moto into
the dataclasses here, and asks :func:`decide` what to do with each request: forward to a target,
redirect, answer a fixed response, or 503.

>>> rules = [Rule(5, ({"Field": "path-pattern", "Values": ["/api/*"]},),
...               ({"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "418"}},))]
>>> request = Request("GET", "/api/x", "", "app.example.com", 80, {})
>>> matching_rule(rules, request).priority
5
"""

from __future__ import annotations

import base64
import fnmatch
import itertools
import random
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PRIORITY = 1 << 30  # the default rule sorts after every numbered rule
GROUP_COOKIE = "AWSALBTG"  # target-group stickiness across a weighted forward
TARGET_COOKIE = "AWSALB"  # target stickiness inside a group (its lb_cookie attribute)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str  # without the leading '?'
    host: str  # the Host header without its port, lower case
    port: int  # the port the client reached
    headers: Mapping[str, str]  # names lower case
    cookies: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    priority: int
    conditions: tuple[Mapping[str, Any], ...]
    actions: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Target:
    id: str
    address: str  # host:port of the local process
    healthy: bool


@dataclass(frozen=True)
class TargetGroup:
    arn: str
    name: str
    targets: tuple[Target, ...] = ()
    stickiness_seconds: int | None = None  # lb_cookie stickiness on the group, when enabled

    @property
    def dimension(self) -> str:
        """``targetgroup/<name>/<id>``: the TargetGroup dimension of ALB metrics."""
        return self.arn.split(":")[-1]


@dataclass(frozen=True)
class Forward:
    group: TargetGroup
    target: Target | None  # None: no registered target (503)
    set_cookies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """A response the load balancer makes itself: redirect, fixed response, or an error."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


def rule_sort_key(rule: Rule) -> int:
    return rule.priority


def matching_rule(rules: Sequence[Rule], request: Request) -> Rule | None:
    """The first rule by priority whose conditions all hold (the default rule has none)."""
    for rule in sorted(rules, key=rule_sort_key):
        if all(condition_holds(c, request) for c in rule.conditions):
            return rule
    return None


def condition_holds(condition: Mapping[str, Any], request: Request) -> bool:
    """One condition; its values are alternatives (OR). Unknown fields never match."""
    kind = condition.get("Field")
    if kind == "path-pattern":
        values = _values(condition, "PathPatternConfig")
        return any(_wildcard(value, request.path, case=True) for value in values)
    if kind == "host-header":
        values = _values(condition, "HostHeaderConfig")
        return any(_wildcard(value.lower(), request.host, case=False) for value in values)
    if kind == "http-request-method":
        return request.method in (condition.get("HttpRequestMethodConfig") or {}).get("Values", [])
    if kind == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        value = request.headers.get(str(config.get("HttpHeaderName", "")).lower())
        return value is not None and any(
            _wildcard(v.lower(), value.lower(), False) for v in config.get("Values", [])
        )
    if kind == "query-string":
        pairs = _query_pairs(request.query)
        wanted = (condition.get("QueryStringConfig") or {}).get("Values", [])
        return any(_query_matches(w, pairs) for w in wanted)
    return False


def _values(condition: Mapping[str, Any], config_key: str) -> list[str]:
    return list((condition.get(config_key) or {}).get("Values") or condition.get("Values") or [])


def _wildcard(pattern: str, value: str, case: bool) -> bool:
    """ALB wildcards: ``*`` any run of characters, ``?`` exactly one; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        pairs.append((key, value))
    return pairs


def _query_matches(wanted: Mapping[str, str], pairs: list[tuple[str, str]]) -> bool:
    key, value = wanted.get("Key"), wanted.get("Value", "")
    return any((key is None or fnmatch.fnmatchcase(k, key)) and _wildcard(value, v, False) for k, v in pairs)


# -- redirect and fixed response ----------------------------------------------------------------


def redirect(config: Mapping[str, Any], request: Request) -> Answer:
    """ALB's redirect: each part defaults to the request's own, ``#{...}`` names are replaced.

    ``#{port}`` is the port the client reached (the front door's local port), so a redirect that
    keeps the port stays inside the local world.
    """
    values = {
        "protocol": "http",
        "host": request.host,
        "port": str(request.port),
        "path": request.path.lstrip("/"),
        "query": request.query,
    }

    def fill(text: str) -> str:
        return re.sub(r"#\{(protocol|host|port|path|query)\}", lambda m: values[m.group(1)], text)

    protocol = fill(str(config.get("Protocol", "#{protocol}"))).lower()
    host = fill(str(config.get("Host", "#{host}")))
    port = fill(str(config.get("Port", "#{port}")))
    path = fill(str(config.get("Path", "/#{path}")))
    query = fill(str(config.get("Query", "#{query}")))
    default_port = {"http": "80", "https": "443"}.get(protocol)
    netloc = host if port == default_port else f"{host}:{port}"
    location = f"{protocol}://{netloc}{path}" + (f"?{query}" if query else "")
    status = 301 if config.get("StatusCode") == "HTTP_301" else 302
    return Answer(status, (("Location", location), ("Content-Type", "text/html")), b"")


def fixed_response(config: Mapping[str, Any]) -> Answer:
    body = str(config.get("MessageBody") or "").encode("utf-8")
    content_type = str(config.get("ContentType") or "text/plain")
    return Answer(int(config.get("StatusCode", 200)), (("Content-Type", content_type),), body)


def service_unavailable() -> Answer:
    body = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
    return Answer(503, (("Content-Type", "text/html"),), body)


# -- weighted forward with stickiness -------------------------------------------------------------


class Balancer:
    """Picks a target group by weight (honouring the group cookie) and a target by round robin.

    ALB's choices, kept here: a client holding a group cookie stays on that group while the
    action's stickiness is on, even at weight 0; healthy targets take turns; a group whose
    targets are all unhealthy fails open to all of them; with none registered it is a 503.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)
        self._turns: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()

    def forward(
        self, action: Mapping[str, Any], groups: Mapping[str, TargetGroup], request: Request
    ) -> Forward | None:
        """None when the action names no group the front door knows (moto refused nothing)."""
        weights = forward_weights(action)
        known = {arn: w for arn, w in weights.items() if arn in groups}
        if not known:
            return None
        seconds = group_stickiness_seconds(action)
        cookies: list[str] = []
        sticky = _cookie_arn(request.cookies.get(GROUP_COOKIE)) if seconds else None
        arn = sticky if sticky in known else self._weighted(known)
        if seconds:
            cookies.append(_cookie(GROUP_COOKIE, _encode(arn), seconds))
        group = groups[arn]
        target = self._target(group, request, cookies)
        return Forward(group, target, tuple(cookies))

    def _weighted(self, weights: Mapping[str, int]) -> str:
        live = [(arn, w) for arn, w in weights.items() if w > 0] or list(weights.items())
        with self._lock:
            pick = self._random.uniform(0, sum(w for _, w in live) or len(live))
        for arn, weight in live:
            pick -= weight or 1
            if pick < 0:
                return arn
        return live[-1][0]

    def _target(self, group: TargetGroup, request: Request, cookies: list[str]) -> Target | None:
        if not group.targets:
            return None
        candidates = [t for t in group.targets if t.healthy] or list(group.targets)
        if group.stickiness_seconds:
            held = _decode(request.cookies.get(TARGET_COOKIE))
            chosen = next((t for t in candidates if f"{group.arn}|{t.id}" == held), None)
            chosen = chosen or self._next(group.arn, candidates)
            cookies.append(
                _cookie(TARGET_COOKIE, _encode(f"{group.arn}|{chosen.id}"), group.stickiness_seconds)
            )
            return chosen
        return self._next(group.arn, candidates)

    def _next(self, arn: str, candidates: Sequence[Target]) -> Target:
        with self._lock:
            turn = next(self._turns.setdefault(arn, itertools.count()))
        return candidates[turn % len(candidates)]


def forward_weights(action: Mapping[str, Any]) -> dict[str, int]:
    config = action.get("ForwardConfig") or {}
    groups = config.get("TargetGroups") or []
    if groups:
        return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
    return {action["TargetGroupArn"]: 1} if action.get("TargetGroupArn") else {}


def group_stickiness_seconds(action: Mapping[str, Any]) -> int | None:
    config = (action.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig") or {}
    if config.get("Enabled") in (True, "true", "True"):
        return int(config.get("DurationSeconds") or 3600)
    return None


def _cookie(name: str, value: str, seconds: int) -> str:
    return f"{name}={value}; Max-Age={seconds}; Path=/"


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None  # a cookie the front door did not write: ignored, as an ALB ignores it


def _cookie_arn(value: str | None) -> str | None:
    return _decode(value)
