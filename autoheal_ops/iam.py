"""One least-privilege IAM policy per function and stage, generated from what each function does.

`python -m autoheal_ops.iam` writes `.chalice/policy-<stage>-<function>.json` for every stage in
`.chalice/config.json` and every function in app.py; `--check` only reports files that are out
of date. A function's actions come from the capabilities it uses (below) and, for the functions
that run runbooks, from every step kind's declared `iam_actions` (the step registry), so a new
step kind is covered when the policies are regenerated. Resources are pinned to the stage's own
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

from autoheal_ops.stage import (
    CHALICE_DIR,
    PARTITION,
    REGION_ACCOUNT,
    StageNames,
    functions,
    stage_environment,
)

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
    "probe": ("logs", "state", "publish_alarms", "status_site"),
    "on_alarm": ("logs", "state", "notify", "publish_alarms", "status_site", "fleet", "steps", "listeners"),
    "follow_up": ("logs", "state", "notify", "publish_alarms", "status_site", "fleet", "steps", "listeners"),
    "maintenance": ("logs", "state", "notify", "publish_alarms", "status_site", "listeners"),
    "shift_traffic": ("logs", "state", "notify", "listeners", "traffic", "hooks"),
    "advance": ("logs", "state", "notify", "listeners", "traffic", "hooks"),
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


def step_statements(actions: Iterable[str], names: StageNames, config: Any) -> list[Statement]:
    """Resources for the step kinds' actions; an action without a rule here fails generation."""
    actions = sorted(set(actions))
    statements: list[Statement] = []
    reads = [a for a in actions if a in UNSCOPED_READS]
    if reads:
        statements.append(allow("StepReads", reads, ANY))
    for i, tags in enumerate(tag_sets(config, names.stage)):
        n = "" if i == 0 else str(i + 1)
        if "ssm:SendCommand" in actions:
            statements.append(
                conditioned(
                    f"SendCommandTagged{n}",
                    ["ssm:SendCommand"],
                    arn("ec2", "instance/*"),
                    "ssm:resourceTag",
                    tags,
                )
            )
        if "ec2:RebootInstances" in actions:
            statements.append(
                conditioned(
                    f"RebootTagged{n}",
                    ["ec2:RebootInstances"],
                    arn("ec2", "instance/*"),
                    "aws:ResourceTag",
                    tags,
                )
            )
        if "autoscaling:SetInstanceHealth" in actions:
            # AWS evaluates the Auto Scaling group's own tags for SetInstanceHealth.
            group = arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")
            statements.append(
                conditioned(
                    f"ReplaceTagged{n}", ["autoscaling:SetInstanceHealth"], group, "aws:ResourceTag", tags
                )
            )
    if "ssm:SendCommand" in actions:
        statements.append(allow("SendCommandDocuments", ["ssm:SendCommand"], document_arns(names, config)))
    if "sns:Publish" in actions:
        statements.append(allow("StepNotify", ["sns:Publish"], arn("sns", names.notify_topic)))
    table = [a for a in actions if a.startswith("dynamodb:")]
    if table:
        statements.append(allow("StepState", table, arn("dynamodb", f"table/{names.state_table}")))
    elb = [a for a in actions if a.startswith("elasticloadbalancing:") and a not in UNSCOPED_READS]
    if elb and load_balancers(config):  # without deployments there is no listener to change
        statements.append(allow("StepListeners", elb, listener_arns(config)))
    site = [a for a in actions if a.startswith("s3:")]
    if site:  # the status site, and no other bucket
        statements.append(allow("StepStatusSite", site, f"{PARTITION}:s3:::{names.status_bucket}/*"))
    handled = set(reads) | set(table) | set(elb) | set(site)
    handled |= {"ssm:SendCommand", "ec2:RebootInstances", "autoscaling:SetInstanceHealth", "sns:Publish"}
    unknown = [a for a in actions if a not in handled]
    if unknown:
        raise PolicyError(
            f"step actions without a resource rule in autoheal_ops/iam.py: {', '.join(unknown)}"
        )
    return statements


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
    if capability == "publish_alarms":
        return [allow("PublishAlarms", ["sns:Publish"], arn("sns", names.alarm_topic))]
    if capability == "notify":
        statements = [allow("Notify", ["sns:Publish"], arn("sns", names.notify_topic))]
        parameter = arn("ssm", f"parameter{names.chat_webhook_parameter}")
        statements.append(allow("ChatWebhook", ["ssm:GetParameter"], parameter))
        decrypt = allow("DecryptWebhook", ["kms:Decrypt"], arn("kms", "key/*"))
        decrypt["Condition"] = {"StringEquals": {"kms:ViaService": "ssm.${AWS::Region}.amazonaws.com"}}
        return statements + [decrypt]
    if capability == "status_site":
        bucket = f"{PARTITION}:s3:::{names.status_bucket}"
        return [allow("StatusSite", ["s3:PutObject", "s3:GetObject"], f"{bucket}/*")]
    if capability == "fleet":
        reads = ["ec2:DescribeInstances", "autoscaling:DescribeAutoScalingGroups"]
        reads += ["elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"]
        return [allow("FleetReads", reads, ANY)]
    if capability == "steps":
        from chalicelib.runbooks.steps import REGISTRY

        return step_statements([a for step in REGISTRY.values() for a in step.iam_actions], names, config)
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
    if capability == "traffic":
        return [allow("Gates", ["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"], ANY)]
    raise PolicyError(f"unknown capability {capability!r}")


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
