"""`reboot`: EC2 RebootInstances on the wave's instances."""

from __future__ import annotations

from typing import Any, Mapping

from chalicelib.config.kinds import Grant
from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import StepContext, StepKind
from chalicelib.runbooks.steps.instance_action import act_once


@register
class Reboot(StepKind):
    kind = "reboot"
    grants = (Grant("RebootTagged", ("ec2:RebootInstances",), "stage-instances"),)
    acts_on_targets = True

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        return act_once(ctx, ctx.engine.actions.reboot, "reboot requested")
