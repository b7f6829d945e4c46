"""`maintenance`: send users to the maintenance page (on) or back to the app (off).

The status site's maintenance mode does the work; until a deployment configures it, the step is
recorded in the story and the run goes on.
"""

from __future__ import annotations

from typing import Any, Mapping

from chalicelib.config.fields import Section
from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import NEXT, StepContext, StepKind


@register
class Maintenance(StepKind):
    kind = "maintenance"

    @classmethod
    def read(cls, s: Section) -> dict[str, Any]:
        return {"mode": s.choice("mode", ("on", "off"), "on"), "message": s.string("message", None)}

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        ctx.incident.tell(
            ctx.now, f"maintenance {params['mode']}: not configured for this deployment; skipped"
        )
        return NEXT
