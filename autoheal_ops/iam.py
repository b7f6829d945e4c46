"""One least-privilege IAM policy per function and stage, generated from what each function does.

`python -m autoheal_ops.iam` writes `.chalice/policy-<stage>-<function>.json` for every stage in
`.chalice/config.json` and every function in app.py; `--check` only reports files that are out
of date. A function's actions come from the capabilities it uses (below) and, for steps, notifier
channels and deployment gates, from every registered kind's declared `grants` (`config.kinds`),
so a new kind is covered when the policies are regenerated. Resources are pinned to the stage's own
names and to the config: the instances that carry the stage tag (and a runbook's target tag), the
listeners of the load balancers the deployments name. ARNs hold `${AWS::Region}` and
`${AWS::AccountId}`, which the packaged template fills in (Fn::Sub) and `render` fills in for
`chalice deploy`.

The stage tag, `autoheal:stage=<stage>` (`stage_tag`), is what lets a stage act on an instance:
SendCommand, RebootInstances, SetInstanceHealth and the after_promote hooks' SendCommand all
require it by condition. Nothing in autoheal sets it: whoever launches the fleet does (the launch
template or the Auto Scaling group, propagated to its instances; the local world's fleet does it
in sandbox/fleet.py). Dev and prod may target the same `app: web` tier, yet each acts only on the
instances tagged with its own stage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import chalicelib.plugins  # noqa: F401 - the built-in kinds, registered
from autoheal_ops.stage import (
    CHALICE_DIR,
    PARTITION,
    REGION_ACCOUNT,
    StageNames,
    functions,
    stage_environment,
)
from chalicelib.config.kinds import CHANNELS, CHECKS, GATES, STEPS, Grant

Statement = dict[str, Any]
ANY = "*"
# Actions AWS authorises on no resource narrower than "*" (reads and lookups only).
UNSCOPED_READS = (
    "ec2:DescribeInstances",
    "autoscaling:DescribeAutoScalingGroups",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetMetricData",
    "ssm:GetCommandInvocation",
    "ssm:ListCommands",
    "ssm:ListCommandInvocations",
)
# What each function uses besides runbook steps (the adapters it reaches from its handler).
# publish_alarms: besides the probe, whatever ends a maintenance raises the DOWNs of monitors still
# down (maintenance by hand, follow_up at a window's end, on_alarm's runbook maintenance_page).
# Shifts never publish the status site, so their functions have no status_site.
CAPABILITIES: Mapping[str, tuple[str, ...]] = {
    "probe": ("logs", "state", "publish_alarms", "status_site", "checks", "send_shards", "vantage"),
    "probe_worker": ("logs", "state", "publish_alarms", "checks", "read_shards", "vantage"),
    "on_alarm": ("logs", "state", "notify", "publish_alarms", "status_site", "fleet", "steps", "listeners"),
    "follow_up": ("logs", "state", "notify", "publish_alarms", "status_site", "fleet", "steps", "listeners"),
    "maintenance": ("logs", "state", "notify", "publish_alarms", "status_site", "listeners"),
    "shift_traffic": ("logs", "state", "notify", "listeners", "traffic", "hooks"),
    "advance": ("logs", "state", "notify", "listeners", "traffic", "hooks"),
    # POST /subscribe: an address's daily counter (one UpdateItem) and its pending subscription.
    "api_handler": ("logs", "subscribe"),
}
STAGE_TAG_KEY = "autoheal:stage"


def stage_tag(stage: str) -> dict[str, str]:
    """The tag an instance (or Auto Scaling group) carries for `stage` to act on it (see above)."""
    return {STAGE_TAG_KEY: stage}


def alarm_publishers() -> list[str]:
    """The functions whose roles may publish to the alarms topic (its topic policy names them)."""
    return sorted(f for f, uses in CAPABILITIES.items() if "publish_alarms" in uses)


class PolicyError(ValueError):
    pass


def arn(service: str, resource: str) -> str:
    return f"{PARTITION}:{service}:{REGION_ACCOUNT}:{resource}"


def tag_sets(config: Any, stage: str) -> list[Mapping[str, str]]:
    """The tags an act step requires: the stage tag, with each runbook's target tag; the stage tag
    alone once a runbook targets instance ids or a target group (its instances carry no known tag)."""
    own = stage_tag(stage)
    if any(not r.targets.tag for r in config.runbooks.values()) or not config.runbooks:
        return [own]
    found = [{**r.targets.tag, **own} for r in config.runbooks.values()]
    unique: list[Mapping[str, str]] = []
    for tags in found:
        if tags not in unique:
            unique.append(tags)
    return unique


def load_balancers(config: Any) -> list[str]:
    """Those the deployments name and the one maintenance diverts, if any."""
    found = {d.listener.load_balancer for d in config.deployments.values()}
    if config.maintenance.listener is not None:
        found.add(config.maintenance.listener.load_balancer)
    return sorted(found)


def documents(config: Any) -> list[str]:
    """SSM documents the config's `run` steps and deployments' `after_promote` hooks send."""
    steps = [step for r in config.runbooks.values() for step in r.steps]
    steps += [step for d in config.deployments.values() for step in d.hooks.after_promote]
    return sorted({str(step.params["document"]) for step in steps if step.action == "run"})


def document_arns(names: StageNames, config: Any) -> list[str]:
    """The stage's own documents (autoheal-<stage>-*) and those the config names."""
    named = [arn("ssm", f"document/{d}") for d in documents(config)]
    return [arn("ssm", f"document/{names.prefix}-*"), *named]


def listener_arns(config: Any) -> list[str]:
    """The listeners (listener/app/<lb>/<lb id>/<listener id>) and their rules (one more id) of
    the load balancers the config names, and nothing else: a listener's port is not in its ARN."""
    lbs = load_balancers(config)
    listeners = [arn("elasticloadbalancing", f"listener/app/{lb}/*/*") for lb in lbs]
    return listeners + [arn("elasticloadbalancing", f"listener-rule/app/{lb}/*/*/*") for lb in lbs]


def conditioned(sid: str, actions: list[str], resource: str, key: str, tags: Mapping[str, str]) -> Statement:
    condition = {"StringEquals": {f"{key}/{k}": v for k, v in sorted(tags.items())}}
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource, "Condition": condition}


# The resources a kind's Grant may name (`on`), in the order their statements appear. Those
# marked per tag set hold one statement for each of `tag_sets` (a condition on the tags).
PER_TAG_SET = {
    # resource key, the ARN and the condition key
    "stage-instances:ssm": ("ec2", "instance/*", "ssm:resourceTag"),
    "stage-instances": ("ec2", "instance/*", "aws:ResourceTag"),
    "stage-groups": ("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*", "aws:ResourceTag"),
}
RESOURCES = ("*", *PER_TAG_SET, "documents", "notify-topic", "chat-webhook-parameter", "ssm-kms-keys")
RESOURCES += ("state-table", "listeners", "status-site")
# What an ARN pattern may name of the stage, besides {partition} and {region_account}.
PATTERN_NAMES = ("stage", "prefix", "state_table", "alarm_topic", "notify_topic", "status_bucket")
PATTERN_NAMES += ("restart_document", "chat_webhook_parameter")
# KMS keys are granted only as SSM uses them (to decrypt a SecureString).
CONDITIONS = {"ssm-kms-keys": {"StringEquals": {"kms:ViaService": "ssm.${AWS::Region}.amazonaws.com"}}}


def resource(on: str, names: StageNames, config: Any) -> str | list[str] | None:
    """The ARN(s) a named resource stands for; None: the config has none (no statement)."""
    if on == "*":
        return ANY
    if on == "documents":
        return document_arns(names, config)
    if on == "notify-topic":
        return arn("sns", names.notify_topic)
    if on == "chat-webhook-parameter":
        return arn("ssm", f"parameter{names.chat_webhook_parameter}")
    if on == "ssm-kms-keys":
        return arn("kms", "key/*")
    if on == "state-table":
        return arn("dynamodb", f"table/{names.state_table}")
    if on == "listeners":  # without a load balancer named there is no listener to change
        return listener_arns(config) if load_balancers(config) else None
    if on == "status-site":  # the status site, and no other bucket
        return f"{PARTITION}:s3:::{names.status_bucket}/*"
    if on.startswith("arn:"):
        fields = {"partition": PARTITION.removeprefix("arn:"), "region_account": REGION_ACCOUNT}
        fields |= {name: getattr(names, name) for name in PATTERN_NAMES}
        try:
            return on.format(**fields)
        except (KeyError, IndexError, ValueError) as exc:
            raise PolicyError(f"{on!r}: expected placeholders among {', '.join(fields)} ({exc!r})") from None
    raise PolicyError(f"{on!r}: not a resource autoheal_ops/iam.py knows (RESOURCES) nor an ARN pattern")


def merged(grants: Iterable[Grant]) -> dict[tuple[str, str], list[str]]:
    """Grants with one Sid and resource are one statement; their actions, sorted, once each."""
    found: dict[tuple[str, str], set[str]] = {}
    for grant in grants:
        found.setdefault((grant.sid, grant.on), set()).update(grant.actions)
    sids = [sid for sid, _ in found]
    doubled = sorted({sid for sid in sids if sids.count(sid) > 1})
    if doubled:
        raise PolicyError(f"Sids on more than one resource: {', '.join(doubled)}")
    return {key: sorted(actions) for key, actions in found.items()}


def order(key: tuple[str, str]) -> int:
    return RESOURCES.index(key[1]) if key[1] in RESOURCES else len(RESOURCES)


def grant_statements(grants: Iterable[Grant], names: StageNames, config: Any) -> list[Statement]:
    """The statements the registered kinds' grants ask for: "*" first (reads only), then each
    tag set's conditioned statements, then the stage's other resources and the ARN patterns."""
    statements: list[Statement] = []
    keyed = merged(grants)
    for (sid, on), actions in sorted(keyed.items(), key=lambda item: order(item[0])):
        if on == "*" and any(not unscoped_read(a) for a in actions):
            writes = ", ".join(a for a in actions if not unscoped_read(a))
            raise PolicyError(f"{sid}: only reads may be granted on '*', not {writes}")
        if on in PER_TAG_SET:
            continue
        found = resource(on, names, config)
        if found is not None:
            statements.append(allow(sid, actions, found))
            if on in CONDITIONS:
                statements[-1]["Condition"] = CONDITIONS[on]
    tagged = [(sid, on, actions) for (sid, on), actions in keyed.items() if on in PER_TAG_SET]
    tagged.sort(key=lambda item: RESOURCES.index(item[1]))
    conditioned_ones = []
    for i, tags in enumerate(tag_sets(config, names.stage) if tagged else []):
        n = "" if i == 0 else str(i + 1)
        for sid, on, actions in tagged:
            service, path, key = PER_TAG_SET[on]
            conditioned_ones.append(conditioned(f"{sid}{n}", actions, arn(service, path), key, tags))
    reads = 1 if statements and statements[0]["Resource"] == ANY else 0
    return statements[:reads] + conditioned_ones + statements[reads:]


def unscoped_read(action: str) -> bool:
    """A read AWS authorises on "*" only: those listed, and any Describe (a Get or List may be
    scoped to a resource, and must be)."""
    return action in UNSCOPED_READS or action.split(":", 1)[-1].startswith("Describe")


def kind_grants(registry: Any) -> list[Grant]:
    return [grant for kind in registry.values() for grant in kind.grants]


def allow(sid: str, actions: list[str], resource: str | list[str]) -> Statement:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


def capability_statements(capability: str, function: str, names: StageNames, config: Any) -> list[Statement]:
    if capability == "logs":
        group = arn("logs", f"log-group:/aws/lambda/{names.function(function)}")
        return [
            allow(
                "Logs",
                ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                [group, f"{group}:*"],
            )
        ]
    if capability == "state":
        table = arn("dynamodb", f"table/{names.state_table}")
        verbs = ["GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchWriteItem"]
        return [allow("State", [f"dynamodb:{v}" for v in verbs], table)]
    if capability == "subscribe":  # subscriptions.service: nothing else of the table or the topic
        return [
            allow("SubscribeCounter", ["dynamodb:UpdateItem"], arn("dynamodb", f"table/{names.state_table}")),
            allow("SubscribeToNotices", ["sns:Subscribe"], arn("sns", names.notify_topic)),
        ]
    if capability == "publish_alarms":
        return [allow("PublishAlarms", ["sns:Publish"], arn("sns", names.alarm_topic))]
    if capability == "notify":  # every notifier channel's grants
        return grant_statements(kind_grants(CHANNELS), names, config)
    if capability == "status_site":
        bucket = f"{PARTITION}:s3:::{names.status_bucket}"
        return [allow("StatusSite", ["s3:PutObject", "s3:GetObject"], f"{bucket}/*")]
    if capability == "fleet":
        reads = ["ec2:DescribeInstances", "autoscaling:DescribeAutoScalingGroups"]
        reads += ["elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"]
        return [allow("FleetReads", reads, ANY)]
    if capability == "steps":  # every runbook step kind's grants
        return grant_statements(kind_grants(STEPS), names, config)
    if capability == "listeners":
        reads = [
            f"elasticloadbalancing:Describe{r}"
            for r in ("LoadBalancers", "Listeners", "Rules", "TargetGroups", "TargetHealth")
        ]
        statements = [allow("ListenerReads", reads, ANY)]
        if load_balancers(config):
            writes = ["elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule"]
            writes += ["elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule"]
            statements.append(allow("ConfiguredListeners", writes, listener_arns(config)))
        return statements
    if capability == "hooks":  # deployments' after_promote: `run` steps on the promoted group
        if not any(d.hooks.after_promote for d in config.deployments.values()):
            return []
        results = allow("HookCommandResults", ["ssm:GetCommandInvocation", "ssm:ListCommands"], ANY)
        sent = allow("HookDocuments", ["ssm:SendCommand"], document_arns(names, config))
        instance = arn("ec2", "instance/*")
        tagged = conditioned(
            "HookInstancesTagged", ["ssm:SendCommand"], instance, "ssm:resourceTag", stage_tag(names.stage)
        )
        return [results, sent, tagged]
    if capability == "failure_queue":  # Lambda sends a failed event with the function's role
        return [allow("OnFailureQueue", ["sqs:SendMessage"], arn("sqs", names.failure_queue(function)))]
    if capability == "send_shards":  # the fan-out's scheduler (chalicelib.fanout.scheduler)
        actions = ["sqs:GetQueueUrl", "sqs:SendMessage"]
        return [allow("ProbeShardsSend", actions, arn("sqs", names.probe_queue))]
    if capability == "read_shards":  # what Lambda's SQS poller does with the worker's role
        actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        actions += ["sqs:GetQueueUrl", "sqs:ChangeMessageVisibility"]  # a failed shard's quick retry
        return [allow("ProbeShardsRead", actions, arn("sqs", names.probe_queue))]
    if capability == "checks":  # every probe check kind's grants (the built-in ones need none)
        return grant_statements(kind_grants(CHECKS), names, config)
    if capability == "vantage":  # settings.vantage_points: votes, confirmations, the home topic
        return vantage_statements(names, config)
    if capability == "traffic":  # every deployment gate's grants
        return grant_statements(kind_grants(GATES), names, config)
    raise PolicyError(f"unknown capability {capability!r}")


def vantage_statements(names: StageNames, config: Any) -> list[Statement]:
    """Every region's probe may ask the others' to confirm, and votes and publishes in the home
    region's table and topic (chalicelib/vantage); nothing without settings.vantage_points."""
    points = config.settings.vantage
    if points is None:
        return []

    def at(region: str, service: str, path: str) -> str:
        return f"{PARTITION}:{service}:{region}:${{AWS::AccountId}}:{path}"

    probes = [at(region, "lambda", f"function:{names.function('probe')}") for region in points.regions]
    # UpdateItem: a pending message's claim, a note's line of the status history; the batches:
    # a round's acted statuses and notes
    verbs = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem", "BatchWriteItem")
    votes = [f"dynamodb:{verb}" for verb in verbs]
    return [
        allow("VantageConfirm", ["lambda:InvokeFunction"], probes),
        allow("VantageVotes", votes, at(points.home, "dynamodb", f"table/{names.state_table}")),
        allow("VantagePublish", ["sns:Publish"], at(points.home, "sns", names.alarm_topic)),
    ]


def policy(function: str, stage: str, config: Any) -> dict[str, Any]:
    if function not in CAPABILITIES:
        raise PolicyError(f"{function}: no capabilities declared in autoheal_ops/iam.py CAPABILITIES")
    names = StageNames(stage)
    statements: list[Statement] = []
    from autoheal_ops.stage import ASYNC_FUNCTIONS

    uses = CAPABILITIES[function] + (("failure_queue",) if function in ASYNC_FUNCTIONS else ())
    for capability in uses:
        statements += capability_statements(capability, function, names, config)
    return {"Version": "2012-10-17", "Statement": merge_sids(statements)}


def merge_sids(statements: list[Statement]) -> list[Statement]:
    """Two capabilities may grant the same reads: keep the first of each Sid."""
    seen: dict[str, Statement] = {}
    for statement in statements:
        seen.setdefault(statement["Sid"], statement)
    return list(seen.values())


def stage_config(stage: str) -> Any:
    """The stage's autoheal config, loaded with the stage's environment."""
    from autoheal_ops.stage import ROOT
    from chalicelib.config import parse_config

    environment = stage_environment(stage)
    path = ROOT / environment["AUTOHEAL_CONFIG"]
    return parse_config(path.read_bytes(), source=str(path.relative_to(ROOT)), environ=environment)


def policy_path(stage: str, function: str) -> Path:
    return CHALICE_DIR / f"policy-{stage}-{function}.json"


def rendered(stage: str) -> dict[Path, str]:
    """Every policy file of a stage, as text."""
    config = stage_config(stage)
    return {
        policy_path(stage, fn): json.dumps(policy(fn, stage, config), indent=2) + "\n" for fn in functions()
    }


def main(argv: list[str]) -> int:
    from autoheal_ops.stage import stages

    parser = argparse.ArgumentParser(prog="python -m autoheal_ops.iam", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report out-of-date files")
    args = parser.parse_args(argv)
    stale = []
    for stage in stages():
        for path, text in rendered(stage).items():
            if not path.is_file() or path.read_text() != text:
                stale.append(path.name)
                if not args.check:
                    path.write_text(text)
    verb = "out of date" if args.check else "written"
    print("\n".join(f"{name}: {verb}" for name in stale) or "policies up to date")
    if args.check and stale:
        print("run `make policies` (python -m autoheal_ops.iam) to regenerate them, then commit them")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
