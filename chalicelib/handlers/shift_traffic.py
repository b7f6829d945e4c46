"""`shift_traffic` (direct invoke): status, start, promote, abort of a blue/green deployment.

>>> ShiftTraffic(config, shifter).invoke({"action": "status", "deployment": "web"})  # doctest: +SKIP
{'deployment': 'web', 'state': 'idle', ...}

A payload that does not validate returns {"error": ...} naming the key, and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from aws_lambda_powertools import Logger

from chalicelib.aws.elbv2 import ListenerError
from chalicelib.config.durations import parse_duration
from chalicelib.config.model import Config
from chalicelib.deployments.shifter import Refused, Shifter, StartOptions
from chalicelib.deployments.store import Conflict
from chalicelib.deployments.strategies import STRATEGIES, given_steps_problem, plan_problem

logger = Logger(service="autoheal", child=True)
ACTIONS = {
    "status": (),
    "start": ("strategy", "steps", "step_interval", "to"),
    "promote": (),
    "abort": ("reason",),
}


class InvalidPayload(ValueError):
    pass


@dataclass(frozen=True)
class ShiftRequest:
    action: str
    deployment: str
    options: StartOptions
    reason: str = ""


def parse_request(payload: Any, config: Config) -> ShiftRequest:
    if not isinstance(payload, Mapping):
        raise InvalidPayload(f"payload: expected a JSON object, got {type(payload).__name__}")
    action = payload.get("action")
    if not isinstance(action, str) or action not in ACTIONS:  # {} or [] is unhashable: no TypeError
        raise InvalidPayload(f"action: expected one of {', '.join(ACTIONS)}, got {action!r}")
    allowed = ("action", "deployment", *ACTIONS[action])
    for key in payload:
        if key not in allowed:
            raise InvalidPayload(f"{key}: not allowed for {action} (allowed: {', '.join(allowed)})")
    name = payload.get("deployment")
    if not isinstance(name, str) or name not in config.deployments:
        known = ", ".join(sorted(config.deployments)) or "none configured"
        raise InvalidPayload(f"deployment: expected a configured deployment ({known}), got {name!r}")
    reason = payload.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 500:
        raise InvalidPayload("reason: expected a string of at most 500 characters")
    options = parse_start(payload, config, name) if action == "start" else StartOptions()
    return ShiftRequest(action, name, options, reason)


def parse_start(payload: Mapping[str, Any], config: Config, name: str) -> StartOptions:
    deployment = config.deployments[name]
    strategy = payload.get("strategy", deployment.strategy)
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise InvalidPayload(f"strategy: expected one of {', '.join(STRATEGIES)}, got {strategy!r}")
    steps = payload.get("steps")
    whole = isinstance(steps, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in steps)
    if steps is not None and not whole:
        raise InvalidPayload(f"steps: expected a list of whole percentages like [10, 50, 100], got {steps!r}")
    if steps is not None:
        problem = given_steps_problem(strategy, tuple(steps))
    else:
        problem = plan_problem(strategy, deployment.steps)
    if problem:
        raise InvalidPayload(problem)
    return StartOptions(
        strategy=payload.get("strategy"),
        steps=tuple(steps) if steps is not None else None,
        step_interval=parse_interval(payload.get("step_interval")),
        to=parse_to(payload.get("to"), deployment.blue, deployment.green),
    )


def parse_interval(value: Any) -> Optional[float]:
    if value is None:
        return None
    try:
        seconds = (
            float(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else parse_duration(value)
        )
    except (TypeError, ValueError):
        raise InvalidPayload(f'step_interval: expected a duration like "5m", got {value!r}') from None
    if not 0 < seconds <= 86400:
        raise InvalidPayload(f"step_interval: expected a duration above 0 and at most 1d, got {value!r}")
    return seconds


def parse_to(value: Any, blue: str, green: str) -> Optional[str]:
    if value is not None and value not in (blue, green):
        raise InvalidPayload(f"to: expected {blue!r} or {green!r}, got {value!r}")
    return value


class ShiftTraffic:
    def __init__(self, config: Config, shifter: Shifter) -> None:
        self.config = config
        self.shifter = shifter

    def invoke(self, payload: Any) -> dict[str, Any]:
        try:
            request = parse_request(payload, self.config)
        except InvalidPayload as exc:
            return {"error": str(exc)}
        deployment = self.config.deployments[request.deployment]
        try:
            if request.action == "status":
                return self.shifter.status(deployment)
            if request.action == "start":
                return self.shifter.start(deployment, request.options, by="person")
            if request.action == "promote":
                return self.shifter.promote(deployment, by="person")
            return self.shifter.abort(deployment, request.reason, by="person")
        except (Refused, ListenerError) as exc:
            return {"error": str(exc)}
        except Conflict:
            return {
                "error": f"deployment {request.deployment!r} changed meanwhile: ask for its status and retry"
            }
