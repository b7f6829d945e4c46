"""EC2, Auto Scaling and target-group look-ups and actions on instances."""

from __future__ import annotations

from typing import Mapping, Sequence

from chalicelib.aws.clients import client


def running_instances_tagged(tags: Mapping[str, str]) -> list[str]:
    filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
    filters.append({"Name": "instance-state-name", "Values": ["running"]})
    ids: list[str] = []
    for page in client("ec2").get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            ids.extend(instance["InstanceId"] for instance in reservation["Instances"])
    return sorted(ids)


def unhealthy_targets(target_group: str) -> list[str]:
    """Instance ids the target group reports unhealthy (`target_group` is a name or an ARN)."""
    elb = client("elbv2")
    arn = target_group
    if not target_group.startswith("arn:"):
        arn = elb.describe_target_groups(Names=[target_group])["TargetGroups"][0]["TargetGroupArn"]
    health = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return sorted(d["Target"]["Id"] for d in health if d["TargetHealth"]["State"] == "unhealthy")


def reboot(instance_ids: Sequence[str]) -> None:
    client("ec2").reboot_instances(InstanceIds=list(instance_ids))


def mark_unhealthy(instance_ids: Sequence[str]) -> None:
    """Auto Scaling replaces an instance marked Unhealthy."""
    for instance_id in instance_ids:
        client("autoscaling").set_instance_health(
            InstanceId=instance_id, HealthStatus="Unhealthy", ShouldRespectGracePeriod=False
        )
