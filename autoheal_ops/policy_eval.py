"""Decide offline whether an IAM policy allows a request, as AWS's policy logic does.

Hand-written because no maintained library does this: the packages on PyPI lint policies
(parliament, iam-policy-validator), generate them (policy-sentry), parse them and expand their
wildcards (policyuniverse, last released 2023; iam-ape), or the check asks AWS itself (the IAM
policy simulator); moto checks actions only. This covers what autoheal's
policies and its topic policy use: Allow/Deny, Action/NotAction, Resource/NotResource and
Principal as globs, and the String, Arn and Bool condition operators with their `Not`,
`IfExists`, `ForAnyValue:` and `ForAllValues:` forms. An explicit Deny wins; nothing matching
means denied.

>>> doc = {"Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:*"}]}
>>> decide(doc, Request("sns:Publish", "arn:aws:sns:us-east-1:1:t"))
'Allow'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Callable, Literal

Decision = Literal["Allow", "Deny", "ImplicitDeny"]
Context = Mapping[str, str | Sequence[str]]


class PolicyEvalError(ValueError):
    """The policy uses something this evaluator does not know: never guess an answer."""


@dataclass(frozen=True)
class Request:
    action: str  # "service:Operation"
    resource: str  # an ARN, or "*" for actions that take no resource
    context: Context = field(default_factory=dict)  # condition keys, e.g. aws:ResourceTag/app
    principal: Mapping[str, str] = field(default_factory=dict)  # {"AWS": arn} or {"Service": name}


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters (`/` and `:` too), `?` one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL)


def matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return bool(_glob(pattern, ignore_case).match(value))


def listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _equal(a: str, b: str) -> bool:
    return a == b


def _equal_folded(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def _like(pattern: str, value: str) -> bool:
    return matches(pattern, value)


def _bool(pattern: str, value: str) -> bool:
    return str(pattern).lower() == str(value).lower()


# Base operator -> (how one policy value compares with one request value).
COMPARE: Mapping[str, Callable[[str, str], bool]] = {
    "StringEquals": _equal,
    "StringEqualsIgnoreCase": _equal_folded,
    "StringLike": _like,
    "ArnEquals": _like,  # AWS lets ArnEquals take wildcards too
    "ArnLike": _like,
    "Bool": _bool,
}
NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase"}
NEGATED |= {"StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}


def condition_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    """One operator on one key: the policy's values are ORed; a `Not` operator holds when none match."""
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    negated = name in NEGATED
    compare = COMPARE.get(NEGATED.get(name, name))
    if compare is None or qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise PolicyEvalError(f"condition operator {operator!r} is not supported")
    present = key in context
    if not present and if_exists:
        return True
    values = [str(v) for v in listed(context.get(key, []))]
    patterns = [str(p) for p in listed(expected)]

    def hit(value: str) -> bool:
        found = any(compare(p, value) for p in patterns)
        return not found if negated else found

    if qualifier == "ForAllValues":
        return all(hit(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(hit(v) for v in values)
    if not present:  # a missing key matches nothing: a `Not` operator then holds
        return negated
    if isinstance(context[key], (list, tuple)):
        raise PolicyEvalError(f"{key} has several values: use ForAnyValue or ForAllValues")
    return hit(values[0])


def conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Context) -> bool:
    """Every operator and every key in them must hold (AND); keys are case-insensitive."""
    folded = {k.lower(): v for k, v in context.items()}
    return all(
        condition_holds(operator, key.lower(), expected, folded)
        for operator, keys in conditions.items()
        for key, expected in keys.items()
    )


def _principal_matches(element: Any, principal: Mapping[str, str]) -> bool:
    if element == "*":
        return True
    return any(
        kind in principal and any(matches(str(p), principal[kind]) for p in listed(ids))
        for kind, ids in element.items()
    )


def _element_matches(statement: Mapping[str, Any], name: str, value: str, ignore_case: bool) -> bool:
    """`Action`/`NotAction` (and the Resource pair) against one value; absent means any."""
    if name in statement:
        return any(matches(str(p), value, ignore_case) for p in listed(statement[name]))
    negative = f"Not{name}"
    if negative in statement:
        return not any(matches(str(p), value, ignore_case) for p in listed(statement[negative]))
    return True


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    if not _element_matches(statement, "Action", request.action, ignore_case=True):
        return False
    if not _element_matches(statement, "Resource", request.resource, ignore_case=False):
        return False
    if "Principal" in statement and not _principal_matches(statement["Principal"], request.principal):
        return False
    if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"], request.principal):
        return False
    return conditions_hold(statement.get("Condition", {}), request.context)


def decide(document: Mapping[str, Any], request: Request) -> Decision:
    """Deny if a Deny statement applies, else Allow if an Allow one does, else ImplicitDeny."""
    effects = {s["Effect"] for s in listed(document["Statement"]) if statement_applies(s, request)}
    if "Deny" in effects:
        return "Deny"
    return "Allow" if "Allow" in effects else "ImplicitDeny"
