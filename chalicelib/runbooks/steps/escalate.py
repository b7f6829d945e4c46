"""`escalate`: tell people the run did not bring it back, and stop acting."""

from __future__ import annotations

from typing import Any, Mapping

from chalicelib.config.kinds import Grant
from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import ESCALATED, StepContext, StepKind


@register
class Escalate(StepKind):
    kind = "escalate"
    grants = (Grant("StepNotify", ("sns:Publish",), "notify-topic"),)

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        ctx.engine.escalate(ctx.incident, "the runbook did not bring it back; a person is needed")
        return ESCALATED
