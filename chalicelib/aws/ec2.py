"""EC2, Auto Scaling and target-group look-ups and actions on instances."""

from __future__ import annotations

from typing import Mapping, Sequence

from chalicelib.aws.clients import call_once, client


def running_instances_tagged(tags: Mapping[str, str]) -> list[str]:
    filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
    filters.append({"Name": "instance-state-name", "Values": ["running"]})
    ids: list[str] = []
    for page in client("ec2").get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            ids.extend(instance["InstanceId"] for instance in reservation["Instances"])
    return sorted(ids)


def target_health(target_group: str) -> dict[str, str]:
    """Instance id -> health state of a target group's registered targets.

    `target_group` is a name, an ARN, or the `targetgroup/<name>/<id>` of a CloudWatch dimension.
    """
    elb = client("elbv2")
    if target_group.startswith("arn:"):
        arn = target_group
    else:
        name = target_group.split("/")[1] if target_group.startswith("targetgroup/") else target_group
        arn = elb.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
    health = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in health}


def unhealthy_targets(target_group: str) -> list[str]:
    """Instance ids the target group reports unhealthy."""
    return sorted(i for i, state in target_health(target_group).items() if state == "unhealthy")


def auto_scaling_group_instances(group: str) -> list[str]:
    found = client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return sorted(i["InstanceId"] for g in found["AutoScalingGroups"] for i in g.get("Instances", []))


def reboot(instance_ids: Sequence[str]) -> None:
    call_once("ec2", "reboot_instances", InstanceIds=list(instance_ids))


def mark_unhealthy(instance_ids: Sequence[str]) -> None:
    """Auto Scaling replaces an instance marked Unhealthy, once its grace period is over."""
    for instance_id in instance_ids:
        call_once(
            "autoscaling",
            "set_instance_health",
            InstanceId=instance_id,
            HealthStatus="Unhealthy",
            ShouldRespectGracePeriod=True,
        )
