"""`traffic`: move a blue/green deployment as a remediation.

``{traffic: {deployment: web, action: abort}}`` sends every request back to the stable group at
once (stickiness off, as any rollback); ``action: promote`` finishes the shift instead. Either
goes through the deployment's shifter, so the move is gated, read back, recorded with the run
that asked for it, and announced like any other. Nothing in flight: the story says so and the
run goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from chalicelib.config.fields import Section
from chalicelib.config.kinds import Grant
from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import NEXT, StepContext, StepKind

if TYPE_CHECKING:
    from chalicelib.config.model import Config

ACTIONS = ("abort", "promote")


@register
class Traffic(StepKind):
    kind = "traffic"
    grants = (
        Grant(
            "StepReads",
            (
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth",
                "cloudwatch:DescribeAlarms",
            ),
            "*",
        ),
        Grant("StepListeners", ("elasticloadbalancing:ModifyListener",), "listeners"),
        Grant(
            "StepState",
            ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
            "state-table",
        ),
    )

    @classmethod
    def read(cls, s: Section) -> dict[str, Any]:
        # Whether the deployment exists is checked with the other cross-references.
        return {"deployment": s.string("deployment"), "action": s.choice("action", ACTIONS, "abort")}

    @classmethod
    def cross_check(cls, params: Mapping[str, Any], config: Config, where: str) -> list[str]:
        deployment = params.get("deployment")
        if not isinstance(deployment, str) or deployment in config.deployments:
            return []
        known = ", ".join(sorted(config.deployments)) or "none configured"
        return [f"{where}.deployment: no deployment named {deployment!r} (deployments: {known})"]

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        from chalicelib.deployments.shifter import Refused

        deployment = ctx.engine.config.deployments[params["deployment"]]
        run = ctx.incident.run
        by = f"runbook:{run.runbook if run else '?'}"
        shifter = ctx.engine.deployment_shifter()
        try:
            if params["action"] == "promote":
                view = shifter.promote(deployment, by=by)
            else:
                view = shifter.abort(deployment, f"{ctx.incident.key} is failing", by=by)
        except Refused as exc:
            ctx.incident.tell(ctx.now, f"traffic {params['action']} {deployment.name}: {exc}")
            return NEXT
        weights = ", ".join(f"{name}={w}" for name, w in sorted(view["weights"].items()))
        ctx.incident.tell(
            ctx.now,
            f"traffic {params['action']} {deployment.name}: {view['state']} ({weights or 'no forward'})",
        )
        return NEXT
