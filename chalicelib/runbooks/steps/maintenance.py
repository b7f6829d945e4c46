"""`maintenance`: send users to the maintenance page (on) or back to the app (off).

It switches the same maintenance mode as the `maintenance` function, owned by the incident: the
load balancer's default action goes to the page while the health-check paths keep reaching the
app, and the status page shows the component in maintenance. A run that ends healed turns it
off; `for` bounds it if nothing does.
"""

from __future__ import annotations

from typing import Any, Mapping

from chalicelib.config.fields import Section
from chalicelib.config.kinds import Grant
from chalicelib.maintenance.runbook import DEFAULT_FOR
from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import NEXT, StepContext, StepKind

# What switching does: the switch and its marker in the state table, the listener and its
# health-check rule, and the status site republished.
MAINTENANCE_GRANTS = (
    Grant(
        "StepState",
        ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"),
        "state-table",
    ),
    Grant(
        "StepReads",
        tuple(f"elasticloadbalancing:Describe{r}" for r in ("LoadBalancers", "Listeners", "Rules")),
        "*",
    ),
    Grant(
        "StepListeners",
        tuple(f"elasticloadbalancing:{a}" for a in ("ModifyListener", "CreateRule", "DeleteRule")),
        "listeners",
    ),
    Grant("StepStatusSite", ("s3:PutObject",), "status-site"),
)


@register
class Maintenance(StepKind):
    kind = "maintenance"
    grants = MAINTENANCE_GRANTS

    @classmethod
    def read(cls, s: Section) -> dict[str, Any]:
        return {
            "mode": s.choice("mode", ("on", "off"), "on"),
            "message": s.string("message", None),
            "for": s.duration("for", DEFAULT_FOR),
        }

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        switch = ctx.engine.maintenance_switch()
        if params["mode"] == "on":
            said = switch.on(ctx.incident, params.get("message"), float(params.get("for") or DEFAULT_FOR))
        else:
            said = switch.off(ctx.incident) or "maintenance page: not on for this incident"
        ctx.incident.tell(ctx.now, said)
        return NEXT
