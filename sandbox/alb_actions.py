"""What an ALB accepts as a listener or rule action, checked as ELBv2 checks it.

moto 5.2.5 checks only that forward target groups exist (and not at all in ModifyListener);
the sandbox's moto calls :func:`validate_actions` so a bad action is refused there as AWS would
refuse it, and code that would fail in AWS fails locally too.

>>> validate_actions([{"Type": "forward", "ForwardConfig": {"TargetGroups": [
...     {"TargetGroupArn": "arn:tg/a", "Weight": 0}]}}], {"arn:tg/a"})   # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sandbox.alb_actions.ActionError: ValidationError: ...: at least one weight must be above 0
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

MAX_WEIGHT = 999
MAX_TARGET_GROUPS = 5
MAX_FIXED_BODY = 1024  # bytes, ALB's limit for a fixed-response MessageBody
MAX_STICKINESS_SECONDS = 7 * 24 * 3600
REDIRECT_CODES = ("HTTP_301", "HTTP_302")
REDIRECT_PROTOCOLS = ("HTTP", "HTTPS", "#{protocol}")
ACTION_TYPES = ("forward", "redirect", "fixed-response", "authenticate-oidc", "authenticate-cognito")


class ActionError(ValueError):
    """An action ELBv2 would refuse: ``code`` is the AWS error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def validate_actions(actions: Sequence[Mapping[str, Any]], target_group_arns: Collection[str]) -> None:
    """Raise ActionError for the first action ELBv2 would refuse."""
    for i, action in enumerate(actions):
        where = f"Actions[{i}]"
        kind = action.get("Type")
        if kind not in ACTION_TYPES:
            raise ActionError(
                "ValidationError", f"{where}.Type: expected one of {ACTION_TYPES}, got {kind!r}"
            )
        if kind == "forward":
            validate_forward(action, target_group_arns, where)
        elif kind == "fixed-response":
            validate_fixed_response(action.get("FixedResponseConfig") or {}, where)
        elif kind == "redirect":
            validate_redirect(action.get("RedirectConfig") or {}, where)


def forward_groups(action: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The target groups of a forward action as [{TargetGroupArn, Weight}], whichever form it uses."""
    config = action.get("ForwardConfig") or {}
    groups = [dict(g) for g in config.get("TargetGroups") or []]
    if not groups and action.get("TargetGroupArn"):
        groups = [{"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
    return groups


def validate_forward(action: Mapping[str, Any], known: Collection[str], where: str) -> None:
    groups = forward_groups(action)
    path = f"{where}.ForwardConfig.TargetGroups"
    if not groups:
        raise ActionError(
            "ValidationError", f"{where}: a forward action needs TargetGroupArn or ForwardConfig"
        )
    if len(groups) > MAX_TARGET_GROUPS:
        raise ActionError("ValidationError", f"{path}: at most {MAX_TARGET_GROUPS} target groups")
    arns = [g.get("TargetGroupArn") for g in groups]
    if len(set(arns)) != len(arns):
        raise ActionError("ValidationError", f"{path}: a target group is listed twice")
    single = action.get("TargetGroupArn")
    if single and action.get("ForwardConfig") and arns != [single]:
        raise ActionError(
            "ValidationError", f"{where}: TargetGroupArn and ForwardConfig name different groups"
        )
    for j, group in enumerate(groups):
        weight = _as_int(group.get("Weight", 1))
        if weight is None or not 0 <= weight <= MAX_WEIGHT:
            got = group.get("Weight")
            raise ActionError("ValidationError", f"{path}[{j}].Weight: expected 0..{MAX_WEIGHT}, got {got!r}")
        if group.get("TargetGroupArn") not in known:
            raise ActionError(
                "TargetGroupNotFound", f"Target group '{group.get('TargetGroupArn')}' not found"
            )
    if all(_as_int(g.get("Weight", 1)) == 0 for g in groups):
        raise ActionError("ValidationError", f"{path}: at least one weight must be above 0")
    stickiness = (action.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig") or {}
    seconds = stickiness.get("DurationSeconds")
    if _truthy(stickiness.get("Enabled")) and seconds is not None:
        duration = _as_int(seconds)
        if duration is None or not 1 <= duration <= MAX_STICKINESS_SECONDS:
            raise ActionError(
                "ValidationError",
                f"{where}.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds: "
                f"expected 1..{MAX_STICKINESS_SECONDS}, got {seconds!r}",
            )


def validate_fixed_response(config: Mapping[str, Any], where: str) -> None:
    body = config.get("MessageBody") or ""
    size = len(str(body).encode("utf-8"))
    if size > MAX_FIXED_BODY:
        raise ActionError(
            "InvalidLoadBalancerAction",
            f"{where}.FixedResponseConfig.MessageBody: at most {MAX_FIXED_BODY} bytes, got {size}",
        )


def validate_redirect(config: Mapping[str, Any], where: str) -> None:
    path = f"{where}.RedirectConfig"
    code = config.get("StatusCode")
    if code not in REDIRECT_CODES:
        raise ActionError(
            "ValidationError", f"{path}.StatusCode: expected one of {REDIRECT_CODES}, got {code!r}"
        )
    protocol = config.get("Protocol", "#{protocol}")
    if protocol not in REDIRECT_PROTOCOLS:
        raise ActionError(
            "ValidationError", f"{path}.Protocol: expected one of {REDIRECT_PROTOCOLS}, got {protocol!r}"
        )
    port = str(config.get("Port", "#{port}"))
    if port != "#{port}" and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ActionError("ValidationError", f"{path}.Port: expected 1..65535 or #{{port}}, got {port!r}")
    host = str(config.get("Host", "#{host}"))
    if not 1 <= len(host) <= 128:
        raise ActionError("ValidationError", f"{path}.Host: expected 1 to 128 characters")
    target = str(config.get("Path", "/#{path}"))
    if not target.startswith("/") or len(target) > 128:
        raise ActionError(
            "ValidationError", f"{path}.Path: expected to start with '/' (at most 128 characters)"
        )
    query = str(config.get("Query", "#{query}"))
    if query.startswith("?") or len(query) > 128:
        raise ActionError(
            "ValidationError", f"{path}.Query: expected at most 128 characters, without a leading '?'"
        )
    if (protocol, port, host, target, query) == ("#{protocol}", "#{port}", "#{host}", "/#{path}", "#{query}"):
        raise ActionError(
            "InvalidLoadBalancerAction", f"{path}: the redirect would lead to the same URL (a loop)"
        )


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
