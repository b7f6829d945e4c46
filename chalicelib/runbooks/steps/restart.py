"""`restart`: the project's own SSM document restarts the service with its manager, as the user
whose manager runs it (PM2 keeps one daemon per user).

Nothing from an event reaches the document: service, manager and user come from the config,
checked against the same patterns as the document's `allowedPattern`.

`diagnose: true` (or `{timeout, lines}`) first keeps what the restart would destroy
(`steps.diagnose`): the wave's diagnosis is sent, waited for at most its timeout, and the
restart goes on whatever it came to. Each is sent once: a run resumed between them neither
diagnoses nor restarts twice.
"""

from __future__ import annotations

from typing import Any, Mapping

from chalicelib.config.fields import Section
from chalicelib.config.kinds import Lookup
from chalicelib.config.model import Config
from chalicelib.runbooks.actions import UnsafeParameter, read_service, restart_parameters
from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import ESCALATED, SEND_COMMAND, StepContext, StepKind
from chalicelib.runbooks.steps.command import send_command_step
from chalicelib.runbooks.steps.diagnose import diagnose_first, live_lookups, read_option, settings_problems


@register
class Restart(StepKind):
    kind = "restart"
    grants = SEND_COMMAND
    acts_on_targets = True

    @classmethod
    def read(cls, s: Section) -> dict[str, Any]:
        """`service`, `manager`, `user` (`actions.read_service`) and `diagnose`."""
        params = read_service(s)
        option = read_option(s)
        return {**params, "diagnose": option} if option else params

    @classmethod
    def cross_check(cls, params: Mapping[str, Any], config: Config, where: str) -> list[str]:
        return settings_problems(config, f"{where}.diagnose") if params.get("diagnose") else []

    @classmethod
    def lookups(cls, params: Mapping[str, Any], config: Config, where: str) -> list[Lookup]:
        return live_lookups(config) if params.get("diagnose") else []

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        try:
            parameters = restart_parameters(params.get("service"), params.get("manager"), params.get("user"))
        except UnsafeParameter as exc:
            ctx.engine.escalate(ctx.incident, f"restart refused: {exc}")
            return ESCALATED
        if params.get("diagnose"):  # then the restart, whatever the diagnosis came to
            diagnose_first(ctx, ctx.targets, parameters, params["diagnose"])
        document = ctx.engine.config.settings.restart_document
        summary = f"restart {parameters['service'][0]} ({parameters['manager'][0]})"
        return send_command_step(ctx, document, parameters, summary)
