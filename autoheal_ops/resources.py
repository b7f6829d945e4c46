"""The stage's resources template: resources/autoheal.yaml plus what is generated from the stage.

Generated per function: a log group with retention, the function's fixed name and role name (so
policies and alarms can name them), and for every asynchronously invoked function an on-failure
SQS queue (Lambda's OnFailure destination) with an alarm on its depth and an alarm on its
`HandlerErrors` metric. Per scheduled function a heartbeat alarm (its invocations stopped). Per
monitor with `metrics: true` an availability and a latency alarm. One dashboard for the stage.
The alarms topic's policy admits, besides CloudWatch and the probe, the roles that raise DOWNs.

>>> template = stage_template("dev", config)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import yaml

from autoheal_ops.iam import alarm_publishers
from autoheal_ops.stage import API_HANDLER, ASYNC_FUNCTIONS, ROOT, SCHEDULED_FUNCTIONS, StageNames

TEMPLATE = ROOT / "resources" / "autoheal.yaml"
LOG_RETENTION_DAYS = 30
FAILURE_RETRIES = 2  # Lambda's own retries of an async event before it goes to the queue
HANDLER_ERRORS = "HandlerErrors"  # chalicelib.metrics emits it where a handler fails
SHARD_RECEIVES = 3  # receives of a shard message before it goes to the dead-letter queue
SHARD_VISIBILITY = 90  # over probe_worker's timeout (70 s): a dead worker's message returns after it


def logical_id(function: str) -> str:
    """Chalice's logical id for a function's role and log group: probe -> Probe, on_alarm -> OnAlarm."""
    return "".join(part.capitalize() for part in function.split("_"))


def function_id(function: str) -> str:
    """Chalice's logical id for the function itself: the API handler's is APIHandler."""
    return "APIHandler" if function == API_HANDLER else logical_id(function)


def cfn_loader() -> type:
    """Reads CloudFormation's short tags as the JSON form CloudFormation takes (!Sub -> Fn::Sub)."""

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        key = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    Loader.add_multi_constructor("!", tagged)
    return Loader


def base_template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=cfn_loader())


def open_alarm_topic_to_publishers(resources: dict[str, Any]) -> None:
    """The alarms topic refuses every principal but CloudWatch and the roles listed in its Deny's
    ArnNotLike: the probe's (the template's, ProbeRoleName may rename it) and, from the policy
    generator, every other function granted publish_alarms (they raise DOWNs as maintenance ends)."""
    statements = resources["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    deny = next(s for s in statements if s["Effect"] == "Deny")
    probe = deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    roles = [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/autoheal-${{Stage}}-{function}"}
        for function in alarm_publishers()
        if function != "probe"
    ]
    deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"] = [probe, *roles]


def alarm(
    name: str, description: str, metric: dict[str, Any], threshold: float, comparison: str, **extra: Any
) -> dict[str, Any]:
    properties = {
        "AlarmName": name,
        "AlarmDescription": description,
        **metric,
        "Period": 60,
        "EvaluationPeriods": extra.pop("periods", 1),
        "Threshold": threshold,
        "ComparisonOperator": comparison,
        "TreatMissingData": extra.pop("missing", "notBreaching"),
        "AlarmActions": [{"Ref": "NotifyTopic"}],
        "OKActions": [{"Ref": "NotifyTopic"}],
    }
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}


def function_parts(function: str, names: StageNames, merged: bool) -> dict[str, Any]:
    logical = logical_id(function)
    lambda_name = names.function(function)
    parts: dict[str, Any] = {
        f"{logical}LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": f"/aws/lambda/{lambda_name}",
                "RetentionInDays": LOG_RETENTION_DAYS,
            },
        },
    }
    if merged:  # merged into Chalice's resources of the same ids: the names `chalice deploy` gives
        parts[function_id(function)] = {"Properties": {"FunctionName": lambda_name}}
        parts[f"{logical}Role"] = {"Properties": {"RoleName": names.role(function)}}
    if function in ASYNC_FUNCTIONS:
        queue = f"{logical}FailureQueue"
        parts[queue] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": names.failure_queue(function), "MessageRetentionPeriod": 1209600},
        }
        if merged:  # the other path sets it once `chalice deploy` made the function (operating.md, Path 2)
            parts[logical]["Properties"]["EventInvokeConfig"] = {
                "MaximumRetryAttempts": FAILURE_RETRIES,
                "DestinationConfig": {
                    "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": [queue, "Arn"]}}
                },
            }
        depth = {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
            "Statistic": "Maximum",
        }
        parts[f"{queue}Alarm"] = alarm(
            f"{names.prefix}-{function}-failed-events",
            f"{function} gave up on an event after {FAILURE_RETRIES} retries: it waits in its queue.",
            depth,
            0,
            "GreaterThanThreshold",
        )
    errors = {
        "Namespace": names.metrics_namespace,
        "MetricName": HANDLER_ERRORS,
        "Dimensions": [{"Name": "Function", "Value": function}],
        "Statistic": "Sum",
    }
    parts[f"{logical}ErrorsAlarm"] = alarm(
        f"{names.prefix}-{function}-errors", f"{function} raised.", errors, 0, "GreaterThanThreshold"
    )
    if function in SCHEDULED_FUNCTIONS:
        invocations = {
            "Namespace": "AWS/Lambda",
            "MetricName": "Invocations",
            "Dimensions": [{"Name": "FunctionName", "Value": lambda_name}],
            "Statistic": "Sum",
        }
        parts[f"{logical}HeartbeatAlarm"] = alarm(
            f"{names.prefix}-{function}-heartbeat",
            f"{function} has not run for 5 minutes (its schedule or the function is broken).",
            invocations,
            1,
            "LessThanThreshold",
            periods=5,
            missing="breaching",
        )
    return parts


def shard_queue(names: StageNames, merged: bool) -> dict[str, Any]:
    """The fan-out's queue, its dead-letter queue (three receives) with an alarm that pages on
    its depth, and, merged into Chalice's event source, partial batch responses (Chalice has no
    option for FunctionResponseTypes). Under `chalice deploy` the mapping has none, and needs
    none: probe_worker takes one message a batch and raises when it fails, so Lambda retries it."""
    parts: dict[str, Any] = {
        "ProbeShardDeadLetters": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": names.probe_dead_letters, "MessageRetentionPeriod": 1209600},
        },
        "ProbeShardQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": names.probe_queue,
                "VisibilityTimeout": SHARD_VISIBILITY,
                "MessageRetentionPeriod": 3600,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["ProbeShardDeadLetters", "Arn"]},
                    "maxReceiveCount": SHARD_RECEIVES,
                },
            },
        },
    }
    depth = {
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ProbeShardDeadLetters", "QueueName"]}}
        ],
        "Statistic": "Maximum",
    }
    parts["ProbeShardDeadLettersAlarm"] = alarm(
        f"{names.prefix}-probe-shards-dead",
        f"A shard message failed {SHARD_RECEIVES} times: its monitors went unprobed (shown unknown).",
        depth,
        0,
        "GreaterThanThreshold",
    )
    if merged:
        events = {
            "ProbeWorkerSqsEventSource": {
                "Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
            }
        }
        parts["ProbeWorker"] = {"Properties": {"Events": events}}
    return parts


def monitor_alarms(config: Any, names: StageNames) -> dict[str, Any]:
    """Only monitors with `metrics: true` have per-monitor metrics, so only they get alarms."""
    parts: dict[str, Any] = {}
    for monitor in config.monitors:
        if not monitor.metrics:
            continue
        logical = "Monitor" + "".join(c for c in monitor.name.title() if c.isalnum())
        dimension = [{"Name": "Monitor", "Value": monitor.name}]
        availability = {
            "Namespace": names.metrics_namespace,
            "MetricName": "Availability",
            "Dimensions": dimension,
            "Statistic": "Average",
        }
        parts[f"{logical}AvailabilityAlarm"] = alarm(
            f"{names.prefix}-{monitor.name}-availability",
            f"{monitor.name} answered fewer than 90% of probes for 3 minutes.",
            availability,
            0.9,
            "LessThanThreshold",
            periods=3,
        )
        latency = {
            "Namespace": names.metrics_namespace,
            "MetricName": "ResponseTime",
            "Dimensions": dimension,
            "ExtendedStatistic": "p90",
        }
        limit = (monitor.expect.max_response_time or monitor.timeout) * 1000
        parts[f"{logical}LatencyAlarm"] = alarm(
            f"{names.prefix}-{monitor.name}-latency",
            f"{monitor.name}'s p90 response time stayed above {limit:.0f} ms for 3 minutes.",
            latency,
            limit,
            "GreaterThanThreshold",
            periods=3,
        )
    return parts


def dashboard(config: Any, names: StageNames, functions: list[str]) -> dict[str, Any]:
    ns = names.metrics_namespace
    components = sorted({m.component or m.name for m in config.monitors})

    def widget(title: str, metrics: list[list[Any]], y: int, x: int = 0) -> dict[str, Any]:
        properties = {
            "title": title,
            "metrics": metrics,
            "region": "${AWS::Region}",
            "period": 60,
            "view": "timeSeries",
        }
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": properties}

    widgets = [
        widget(
            "Availability (monitors up / down)",
            [[ns, "MonitorsUp", "Component", c] for c in components]
            + [[ns, "MonitorsDown", "Component", c] for c in components],
            0,
        ),
        widget(
            "Latency (per-monitor, p90 ms)",
            [[ns, "ResponseTime", "Monitor", m.name, {"stat": "p90"}] for m in config.monitors if m.metrics]
            or [[ns, "CycleDuration"]],
            0,
            12,
        ),
        widget(
            "Restarts and errors",
            [["AWS/Lambda", "Invocations", "FunctionName", names.function("on_alarm")]]
            + [[ns, HANDLER_ERRORS, "Function", f] for f in functions],
            6,
        ),
        widget(
            "Traffic weights (requests per target group)",
            [
                ["AWS/ApplicationELB", "RequestCountPerTarget", "TargetGroup", tg]
                for d in config.deployments.values()
                for tg in (d.blue, d.green)
            ]
            or [[ns, "ProbeHeartbeat"]],
            6,
            12,
        ),
    ]
    import json

    body = {"Fn::Sub": json.dumps({"widgets": widgets})}
    return {
        "Dashboard": {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {"DashboardName": names.prefix, "DashboardBody": body},
        }
    }


def stage_template(stage: str, config: Any, functions: list[str], merged: bool = True) -> dict[str, Any]:
    """`merged`: for `chalice package --merge-template`; else the stack deployed before `chalice deploy`."""
    names = StageNames(stage)
    template = base_template()
    template["Parameters"]["Stage"]["Default"] = stage
    template["Parameters"]["Stage"]["AllowedValues"] = [stage]
    resources = template["Resources"]
    open_alarm_topic_to_publishers(resources)
    for function in functions:
        resources.update(function_parts(function, names, merged))
    if "probe_worker" in functions:
        worker = shard_queue(names, merged)
        if merged:  # deep-merged with the function's own parts (its name)
            worker["ProbeWorker"]["Properties"].update(resources.get("ProbeWorker", {}).get("Properties", {}))
        resources.update(worker)
    resources.update(monitor_alarms(config, names))
    resources.update(dashboard(config, names, functions))
    return template
