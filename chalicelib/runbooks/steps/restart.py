"""`restart`: the project's own SSM document restarts the service with its manager.

Nothing from an event reaches the document: service, manager and user come from the config,
checked against the same patterns as the document's `allowedPattern`.
"""

from __future__ import annotations

from typing import Any, Mapping

from chalicelib.config.fields import Section
from chalicelib.config.model import SERVICE_MANAGERS
from chalicelib.runbooks.actions import SERVICE_NAME, UnsafeParameter, restart_parameters
from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import ESCALATED, StepContext, StepKind
from chalicelib.runbooks.steps.command import send_command_step


@register
class Restart(StepKind):
    kind = "restart"
    iam_actions = ("ssm:SendCommand", "ssm:GetCommandInvocation", "ssm:ListCommands")
    acts_on_targets = True

    @classmethod
    def read(cls, s: Section) -> dict[str, Any]:
        service = s.string("service")
        if isinstance(service, str) and not SERVICE_NAME.match(service):
            s.error("expected a service name of letters, digits and _.@- (at most 64)", "service")
        return {"service": service, "manager": s.choice("manager", SERVICE_MANAGERS, "pm2")}

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        try:
            parameters = restart_parameters(params.get("service"), params.get("manager"))
        except UnsafeParameter as exc:
            ctx.engine.escalate(ctx.incident, f"restart refused: {exc}")
            return ESCALATED
        document = ctx.engine.config.settings.restart_document
        summary = f"restart {parameters['service'][0]} ({parameters['manager'][0]})"
        return send_command_step(ctx, document, parameters, summary)
