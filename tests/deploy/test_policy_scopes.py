"""Issue 17 item 8, decided on the generated policies: each stage acts only on instances tagged
with its own stage, ELB writes reach only the configured load balancers' listeners and rules,
and the shifting functions may not write the status site."""

from __future__ import annotations

import json

import pytest

from autoheal_ops.iam import policy, stage_config, stage_tag
from autoheal_ops.policy_eval import Request, decide
from autoheal_ops.render import resolve
from chalicelib.config import parse_config

ACCOUNT, REGION = "123456789012", "us-east-1"
INSTANCE = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0abc"
ELB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"


HOOKED = """settings: {state_table: t, alarm_topic: a, notify_topic: n, status_bucket: b}
monitors: [{name: web, url: "https://app.example.com/healthz"}]
deployments:
  web:
    listener: {load_balancer: web-alb, port: 443}
    blue: web-blue
    green: web-green
    hooks: {after_promote: [{run: {document: autoheal-STAGE-restart, parameters: {service: web}}}]}
"""


def resolved(function: str, stage: str, config: object = None) -> dict:
    document = policy(function, stage, config or stage_config(stage))
    return json.loads(resolve(json.dumps(document), ACCOUNT, REGION))


def on_instance(action: str, key: str, tags: dict[str, str]) -> Request:
    return Request(action, INSTANCE, {f"{key}/{k}": v for k, v in tags.items()})


SEND = ("ssm:SendCommand", "ssm:resourceTag")
REBOOT = ("ec2:RebootInstances", "aws:ResourceTag")


@pytest.mark.parametrize("stage,other", [("dev", "prod"), ("prod", "dev")])
@pytest.mark.parametrize("function", ["on_alarm", "follow_up"])
@pytest.mark.parametrize("action,key", [SEND, REBOOT])
def test_a_runbook_acts_on_its_own_stages_tier_only(stage, other, function, action, key):
    document = resolved(function, stage)
    assert decide(document, on_instance(action, key, {"app": "web", **stage_tag(stage)})) == "Allow"
    assert decide(document, on_instance(action, key, {"app": "web", **stage_tag(other)})) == "ImplicitDeny"
    assert decide(document, on_instance(action, key, {"app": "web", "autoheal": "managed"})) == "ImplicitDeny"
    assert decide(document, on_instance(action, key, stage_tag(stage))) == "ImplicitDeny"  # not the tier


@pytest.mark.parametrize("stage,other", [("dev", "prod"), ("prod", "dev")])
@pytest.mark.parametrize("function", ["shift_traffic", "advance"])
def test_after_promote_hooks_need_the_stage_tag_not_autoheal_managed(stage, other, function):
    document = resolved(function, stage, parse_config(HOOKED.replace("STAGE", stage)))
    # the promoted group's instances carry the fleet's tags, never autoheal=managed
    assert decide(document, on_instance(*SEND, {"app": "web", **stage_tag(stage)})) == "Allow"
    assert decide(document, on_instance(*SEND, {"app": "web", **stage_tag(other)})) == "ImplicitDeny"
    assert decide(document, on_instance(*SEND, {"autoheal": "managed"})) == "ImplicitDeny"


WRITES = ["ModifyListener", "CreateRule", "DeleteRule", "ModifyRule"]


@pytest.mark.parametrize("function", ["maintenance", "shift_traffic", "advance", "on_alarm", "follow_up"])
def test_elb_writes_reach_the_configured_listeners_and_their_rules_only(function):
    document = resolved(function, "prod")
    granted = [a for a in WRITES if decide(document, Request(f"elasticloadbalancing:{a}", "*")) != "Deny"]

    def allowed(action: str, resource: str) -> bool:
        return decide(document, Request(f"elasticloadbalancing:{action}", f"{ELB}:{resource}")) == "Allow"

    writes = [a for a in granted if allowed(a, "listener/app/web-alb/50dc6c495c0c9188/f2f7dc8efc522ab2")]
    assert "ModifyListener" in writes
    for action in writes:
        assert allowed(action, "listener-rule/app/web-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee")
        assert not allowed(action, "listener/app/other-alb/50dc6c495c0c9188/f2f7dc8efc522ab2")
        assert not allowed(action, "listener-rule/app/web-alb-2/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d0")
        assert not allowed(action, "loadbalancer/app/web-alb/50dc6c495c0c9188")
        assert not allowed(action, "listener/app/web-alb/50dc6c495c0c9188")  # not a listener's ARN
        assert not allowed(action, "targetgroup/web-blue/73e2d6bc24d8a067")


@pytest.mark.parametrize("function", ["shift_traffic", "advance"])
def test_the_shifting_functions_may_not_write_the_status_site(function):
    key = f"arn:aws:s3:::autoheal-prod-status-{ACCOUNT}-{REGION}/index.html"
    assert decide(resolved(function, "prod"), Request("s3:PutObject", key)) == "ImplicitDeny"
    assert decide(resolved("probe", "prod"), Request("s3:PutObject", key)) == "Allow"
