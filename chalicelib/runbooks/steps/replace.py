"""`replace`: mark the wave's instances Unhealthy so their Auto Scaling group replaces them.

The group's health-check grace period is respected: an instance still in it is left alone.
"""

from __future__ import annotations

from typing import Any, Mapping

from chalicelib.config.kinds import Grant
from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import StepContext, StepKind
from chalicelib.runbooks.steps.instance_action import act_once


@register
class Replace(StepKind):
    kind = "replace"
    # AWS evaluates the Auto Scaling group's own tags for SetInstanceHealth.
    grants = (Grant("ReplaceTagged", ("autoscaling:SetInstanceHealth",), "stage-groups"),)
    acts_on_targets = True

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        return act_once(ctx, ctx.engine.actions.replace, "marked unhealthy for replacement")
