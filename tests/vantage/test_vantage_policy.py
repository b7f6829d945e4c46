"""The probe's generated policy with settings.vantage_points: it may ask the other regions'
probes and vote and publish in the home region, and nothing more; without the key, nothing."""

from __future__ import annotations

import json

from autoheal_ops.iam import policy
from autoheal_ops.policy_eval import Request, decide
from autoheal_ops.render import resolve
from chalicelib.config import parse_config

ACCOUNT = "123456789012"
BASE = """settings:
  state_table: t
  alarm_topic: a
  notify_topic: n
  status_bucket: b
"""
VANTAGE = """  vantage_points: [us-east-1, eu-west-1, ap-northeast-2]
  vantage_self_check: https://checkip.example.org/
"""


def probe_policy(text: str, region: str) -> dict:
    document = policy("probe", "dev", parse_config(text))
    return json.loads(resolve(json.dumps(document), ACCOUNT, region))


def test_each_region_asks_the_others_and_votes_and_publishes_at_home() -> None:
    document = probe_policy(BASE + VANTAGE, "eu-west-1")
    for region in ("us-east-1", "ap-northeast-2"):
        probe = f"arn:aws:lambda:{region}:{ACCOUNT}:function:autoheal-dev-probe"
        assert decide(document, Request("lambda:InvokeFunction", probe)) == "Allow"
    home_table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/autoheal-dev-state"
    for verb in ("PutItem", "Query", "GetItem", "DeleteItem", "BatchGetItem", "BatchWriteItem"):
        assert decide(document, Request(f"dynamodb:{verb}", home_table)) == "Allow"
    home_topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:autoheal-dev-alarms"
    assert decide(document, Request("sns:Publish", home_topic)) == "Allow"
    # no other function, table or topic elsewhere
    other = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:autoheal-dev-on_alarm"
    assert decide(document, Request("lambda:InvokeFunction", other)) == "ImplicitDeny"
    foreign = f"arn:aws:dynamodb:ap-northeast-2:{ACCOUNT}:table/autoheal-dev-state"
    assert decide(document, Request("dynamodb:PutItem", foreign)) == "ImplicitDeny"


def test_without_vantage_points_the_probe_invokes_nothing() -> None:
    document = probe_policy(BASE, "us-east-1")
    probe = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:autoheal-dev-probe"
    assert decide(document, Request("lambda:InvokeFunction", probe)) == "ImplicitDeny"
    assert not [s for s in document["Statement"] if s["Sid"].startswith("Vantage")]


def test_a_shard_worker_asks_the_regions_probes_and_claims_and_notes_at_home(monkeypatch) -> None:
    """probe_worker's shards vote as the probe does: the same grants, UpdateItem included (a
    pending message's claim, a note's line of the history), and its confirmations go to `probe`."""
    from chalicelib.vantage.confirm import LambdaAsker

    for function in ("probe", "probe_worker"):
        document = json.loads(
            resolve(json.dumps(policy(function, "dev", parse_config(BASE + VANTAGE))), ACCOUNT, "eu-west-1")
        )
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", f"autoheal-dev-{function}")  # as Lambda sets it
        asked = LambdaAsker().function_name
        assert asked == "autoheal-dev-probe"  # the function that takes a confirmation request
        for region in ("us-east-1", "ap-northeast-2"):
            target = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{asked}"
            assert decide(document, Request("lambda:InvokeFunction", target)) == "Allow", function
        home_table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/autoheal-dev-state"
        assert decide(document, Request("dynamodb:UpdateItem", home_table)) == "Allow", function
        home_topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:autoheal-dev-alarms"
        assert decide(document, Request("sns:Publish", home_topic)) == "Allow", function
