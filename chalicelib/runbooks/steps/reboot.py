"""`reboot`: EC2 RebootInstances on the wave's instances."""

from __future__ import annotations

from typing import Any, Mapping

from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import StepContext, StepKind
from chalicelib.runbooks.steps.instance_action import act_once


@register
class Reboot(StepKind):
    kind = "reboot"
    iam_actions = ("ec2:RebootInstances",)
    acts_on_targets = True

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        return act_once(ctx, ctx.engine.actions.reboot, "reboot requested")
