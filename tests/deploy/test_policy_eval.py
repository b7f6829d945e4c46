"""The offline IAM evaluator against the rules AWS documents for its policy logic."""

from __future__ import annotations

import pytest

from autoheal_ops.policy_eval import PolicyEvalError, Request, condition_holds, decide, matches

INSTANCE = "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource, **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_nothing_matching_is_an_implicit_deny():
    assert decide(doc(allow("sns:Publish", "*")), Request("sns:Subscribe", "*")) == "ImplicitDeny"


def test_an_explicit_deny_beats_an_allow():
    policy = doc(allow("sns:*", "*"), {"Effect": "Deny", "Action": "sns:Publish", "Resource": "*"})
    assert decide(policy, Request("sns:Publish", "arn:aws:sns:us-east-1:1:t")) == "Deny"
    assert decide(policy, Request("sns:GetTopicAttributes", "arn:aws:sns:us-east-1:1:t")) == "Allow"


def test_actions_match_case_insensitively_resources_case_sensitively():
    policy = doc(allow("SNS:publish", "arn:aws:sns:*:*:Alarms"))
    assert decide(policy, Request("sns:Publish", "arn:aws:sns:us-east-1:1:Alarms")) == "Allow"
    assert decide(policy, Request("sns:Publish", "arn:aws:sns:us-east-1:1:alarms")) == "ImplicitDeny"


def test_a_star_spans_slashes_and_a_question_mark_one_character():
    assert matches(
        "arn:aws:elasticloadbalancing:*:listener/app/web-alb/*/*",
        "arn:aws:elasticloadbalancing:r:1:listener/app/web-alb/a/b",
    )
    assert not matches("listener/app/web-alb/*/*", "listener/app/web-alb/a")
    assert matches("i-?", "i-1") and not matches("i-?", "i-12")


def test_not_action_and_not_resource_invert_the_match():
    policy = doc({"Effect": "Allow", "NotAction": "ec2:Reboot*", "NotResource": "arn:aws:s3:::secret/*"})
    assert decide(policy, Request("sns:Publish", "arn:aws:sns:r:1:t")) == "Allow"
    assert decide(policy, Request("ec2:RebootInstances", INSTANCE)) == "ImplicitDeny"
    assert decide(policy, Request("s3:GetObject", "arn:aws:s3:::secret/key")) == "ImplicitDeny"


def test_string_equals_needs_every_key_and_any_of_its_values():
    condition = {
        "StringEquals": {"aws:ResourceTag/app": ["web", "api"], "aws:ResourceTag/autoheal:stage": "dev"}
    }
    policy = doc(allow("ec2:RebootInstances", "arn:aws:ec2:*:*:instance/*", Condition=condition))
    tagged = {"aws:ResourceTag/app": "api", "aws:ResourceTag/autoheal:stage": "dev"}
    assert decide(policy, Request("ec2:RebootInstances", INSTANCE, tagged)) == "Allow"
    prod = {**tagged, "aws:ResourceTag/autoheal:stage": "prod"}
    assert decide(policy, Request("ec2:RebootInstances", INSTANCE, prod)) == "ImplicitDeny"
    untagged = {"aws:ResourceTag/app": "web"}
    assert decide(policy, Request("ec2:RebootInstances", INSTANCE, untagged)) == "ImplicitDeny"


def test_condition_keys_are_case_insensitive():
    policy = doc(allow("ssm:SendCommand", "*", Condition={"StringEquals": {"ssm:resourceTag/app": "web"}}))
    assert decide(policy, Request("ssm:SendCommand", INSTANCE, {"SSM:ResourceTag/app": "web"})) == "Allow"


def test_negated_operators_hold_when_no_value_matches_or_the_key_is_missing():
    assert condition_holds("StringNotEquals", "k", ["a", "b"], {"k": "c"})
    assert not condition_holds("StringNotEquals", "k", ["a", "b"], {"k": "b"})
    assert condition_holds("ArnNotLike", "k", "arn:aws:iam::1:role/x-*", {})
    assert not condition_holds("StringEquals", "k", "a", {})


def test_if_exists_holds_when_the_key_is_missing():
    assert condition_holds("StringEqualsIfExists", "k", "a", {})
    assert not condition_holds("StringEqualsIfExists", "k", "a", {"k": "b"})


def test_like_and_arn_operators_take_wildcards():
    assert condition_holds("StringLike", "k", "web-*", {"k": "web-blue"})
    assert condition_holds(
        "ArnLike", "k", "arn:aws:iam::*:role/autoheal-dev-*", {"k": "arn:aws:iam::1:role/autoheal-dev-probe"}
    )
    assert not condition_holds(
        "ArnLike", "k", "arn:aws:iam::*:role/autoheal-dev-*", {"k": "arn:aws:iam::1:role/autoheal-prod-probe"}
    )


def test_set_qualifiers_over_multivalued_keys():
    context = {"tags": ["app", "color"]}
    assert condition_holds("ForAnyValue:StringEquals", "tags", "app", context)
    assert not condition_holds("ForAllValues:StringEquals", "tags", "app", context)
    assert condition_holds("ForAllValues:StringEquals", "tags", ["app", "color", "x"], context)
    assert not condition_holds("ForAnyValue:StringEquals", "tags", "app", {})
    with pytest.raises(PolicyEvalError):
        condition_holds("StringEquals", "tags", "app", context)


def test_an_unknown_operator_is_refused_not_guessed():
    with pytest.raises(PolicyEvalError):
        condition_holds("NumericLessThan", "k", "3", {"k": "2"})


def test_principals_of_a_resource_policy():
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": "*",
    }
    assert (
        decide(doc(statement), Request("sns:Publish", "t", principal={"Service": "cloudwatch.amazonaws.com"}))
        == "Allow"
    )
    assert (
        decide(doc(statement), Request("sns:Publish", "t", principal={"AWS": "arn:aws:iam::1:role/r"}))
        == "ImplicitDeny"
    )
    anyone = {**statement, "Principal": "*"}
    assert (
        decide(doc(anyone), Request("sns:Publish", "t", principal={"AWS": "arn:aws:iam::1:role/r"}))
        == "Allow"
    )
