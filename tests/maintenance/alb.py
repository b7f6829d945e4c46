"""An ALB in the local AWS for maintenance tests: a listener on 443 forwarding 70/30 to blue and
green with stickiness, and one rule of its own (/api/* to blue) that maintenance must keep."""

from __future__ import annotations

from typing import Any

from chalicelib.aws.clients import client
from chalicelib.aws.elbv2 import Elbv2


def build_alb(name: str = "web-alb", port: int = 443) -> dict[str, Any]:
    ec2, elb = client("ec2"), client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"][
            "SubnetId"
        ]
        for i, z in ((1, "a"), (2, "b"))
    ]
    lb = elb.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    groups = [
        elb.create_target_group(Name=n, Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0][
            "TargetGroupArn"
        ]
        for n in ("web-blue", "web-green")
    ]
    previous = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": groups[0], "Weight": 70},
                {"TargetGroupArn": groups[1], "Weight": 30},
            ],
            "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 900},
        },
    }
    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=port, DefaultActions=[previous])
    arn = listener["Listeners"][0]["ListenerArn"]
    api_rule = elb.create_rule(
        ListenerArn=arn,
        Priority=1,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": groups[0]}],
    )["Rules"][0]["RuleArn"]
    return {"listener": arn, "groups": groups, "previous": Elbv2().default_actions(arn), "api_rule": api_rule}
