"""`restart`: the project's own SSM document restarts the service with its manager, as the user
whose manager runs it (PM2 keeps one daemon per user).

Nothing from an event reaches the document: service, manager and user come from the config,
checked against the same patterns as the document's `allowedPattern`.
"""

from __future__ import annotations

from typing import Any, Mapping

from chalicelib.config.fields import Section
from chalicelib.config.model import SERVICE_MANAGERS
from chalicelib.runbooks.actions import SERVICE_NAME, USER_NAME, UnsafeParameter, restart_parameters
from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import ESCALATED, SEND_COMMAND, StepContext, StepKind
from chalicelib.runbooks.steps.command import send_command_step


@register
class Restart(StepKind):
    kind = "restart"
    grants = SEND_COMMAND
    acts_on_targets = True

    @classmethod
    def read(cls, s: Section) -> dict[str, Any]:
        """`user` is required for pm2, optional for systemd (a user unit), refused for docker
        (containers belong to the docker daemon)."""
        service = s.string("service")
        if isinstance(service, str) and not SERVICE_NAME.fullmatch(service):
            s.error(
                "expected a service name starting with a letter or digit, then letters, digits"
                " and _.@- (at most 64)",
                "service",
            )
        manager = s.choice("manager", SERVICE_MANAGERS, "pm2")
        known_manager = s.data.get("manager", "pm2") == manager  # an unknown one is reported already
        user = s.string("user", None)
        if isinstance(user, str) and not USER_NAME.fullmatch(user):
            s.error(f"expected a Linux user name like ec2-user ({USER_NAME.pattern})", "user")
            user = None
        elif known_manager and user is None and manager == "pm2" and "user" not in s.data:
            s.error(
                "required for manager pm2 (PM2 keeps one daemon per user), e.g. ec2-user or ubuntu", "user"
            )
        elif known_manager and user is not None and manager == "docker":
            s.error("not allowed for manager docker (containers belong to the docker daemon)", "user")
        return {"service": service, "manager": manager, "user": user}

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        try:
            parameters = restart_parameters(params.get("service"), params.get("manager"), params.get("user"))
        except UnsafeParameter as exc:
            ctx.engine.escalate(ctx.incident, f"restart refused: {exc}")
            return ESCALATED
        document = ctx.engine.config.settings.restart_document
        summary = f"restart {parameters['service'][0]} ({parameters['manager'][0]})"
        return send_command_step(ctx, document, parameters, summary)
