"""`run`: another SSM document with fixed parameters (a preventive restart, a failover).

The parameters of the documents autoheal ships are checked against their allowedPatterns."""

from __future__ import annotations

from typing import Any, Mapping

from chalicelib.config.fields import Section
from chalicelib.config.model import SSM_DOCUMENT
from chalicelib.runbooks.documents import parameter_problems
from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import SEND_COMMAND, StepContext, StepKind
from chalicelib.runbooks.steps.command import send_command_step


@register
class Run(StepKind):
    kind = "run"
    grants = SEND_COMMAND
    acts_on_targets = True

    @classmethod
    def read(cls, s: Section) -> dict[str, Any]:
        document = s.string("document")
        if isinstance(document, str) and not SSM_DOCUMENT.match(document):
            s.error("expected an SSM document name", "document")
        parameters = s.raw("parameters", {})
        if not isinstance(parameters, Mapping) or not all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in parameters.values()
        ):
            s.error("expected a mapping of parameter -> fixed string value", "parameters")
            parameters = {}
        params = {"document": document, "parameters": {str(k): [str(v)] for k, v in parameters.items()}}
        if isinstance(document, str):
            for problem in parameter_problems(document, params["parameters"]):
                s.error(problem, "parameters")
        return params

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        return send_command_step(ctx, params["document"], params["parameters"], params["document"])
