"""The step registry: every kind reads its own config, and the shipped IAM policies grant what
each kind declares it needs (Cloud Custodian's check of actions against their permissions)."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from chalicelib.config import ConfigError, parse_config
from chalicelib.runbooks.steps import REGISTRY

# The functions that run runbooks: on_alarm and follow_up, in every stage.
POLICIES = sorted(
    p
    for p in (Path(__file__).resolve().parents[2] / ".chalice").glob("policy-*.json")
    if p.stem.endswith(("-on_alarm", "-follow_up"))
)
SETTINGS = "settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}\n"


def granted(policy: Path) -> list[str]:
    actions: list[str] = []
    for statement in json.loads(policy.read_text())["Statement"]:
        if statement.get("Effect", "Allow") == "Allow":
            found = statement["Action"]
            actions += [found] if isinstance(found, str) else found
    return actions


def test_the_registry_holds_every_documented_kind():
    assert sorted(REGISTRY) == [
        "diagnose",
        "escalate",
        "maintenance",
        "reboot",
        "replace",
        "restart",
        "run",
        "traffic",
        "verify",
    ]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_the_shipped_policy_grants_each_steps_iam_actions(policy, kind):
    allowed = granted(policy)
    missing = [a for a in REGISTRY[kind].iam_actions if not any(fnmatchcase(a, g) for g in allowed)]
    assert missing == [], f"{policy.name} does not grant {missing} that the {kind} step needs"


def test_acting_kinds_declare_permissions_and_roll_over_targets():
    for kind, step in REGISTRY.items():
        if step.acts_on_targets:
            assert step.iam_actions, f"{kind} acts on targets but declares no IAM action"


def test_each_kind_validates_its_own_section_with_key_paths():
    text = SETTINGS + (
        "runbooks:\n  r:\n    targets: {tag: {app: web}}\n    steps:\n"
        "      - restart: {service: 'web; rm -rf /', manager: pm3}\n"
        "      - verify: {monitors: [], within: 5x}\n"
        "      - run: {document: '!', parameters: {a: [1]}}\n"
        "      - reboot: {now: true}\n"
        "      - dance: {}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    errors = "\n".join(caught.value.errors)
    for expected in (
        "runbooks.r.steps[0].restart.service: expected a service name",
        "runbooks.r.steps[0].restart.manager: expected one of",
        "runbooks.r.steps[1].verify.monitors: expected at least one monitor name",
        "runbooks.r.steps[1].verify.within: expected a duration",
        "runbooks.r.steps[2].run.document: expected an SSM document name",
        "runbooks.r.steps[2].run.parameters: expected a mapping",
        "runbooks.r.steps[3].reboot.now: unknown key",
        "runbooks.r.steps[4]: unknown step kind 'dance' (known: diagnose, escalate, maintenance",
    ):
        assert expected in errors


@pytest.mark.parametrize(
    ("value", "error"),
    [("0%", True), ("150%", True), ("abc", True), (0.25, False), ("25%", False), (1, False)],
)
def test_max_share_is_a_share_of_the_tier(value, error):
    text = SETTINGS + (
        f"runbooks:\n  r:\n    targets: {{tag: {{app: web}}}}\n    max_share: {json.dumps(value)}\n"
        "    steps: [{escalate: {}}]\n"
    )
    if error:
        with pytest.raises(ConfigError, match=r"runbooks\.r\.max_share: expected a share like 50%"):
            parse_config(text)
    else:
        assert 0 < parse_config(text).runbooks["r"].max_share <= 1
