"""Reboot and replace: one EC2/Auto Scaling call per wave, recorded so it is never repeated.

The intent is checkpointed before the call and its completion after it. A run resumed between the
two cannot know whether the call went through; it does not repeat it (a second reboot is a bigger
hammer than anyone asked for) and moves on to the verify that follows.
"""

from __future__ import annotations

from typing import Callable, Sequence

from chalicelib.runbooks.steps.base import NEXT, StepContext


def act_once(ctx: StepContext, call: Callable[[Sequence[str]], None], done: str) -> str:
    data, targets = ctx.incident.run.step_data, ctx.targets
    if data.get("requested"):
        return NEXT
    if data.get("intent"):
        ctx.incident.tell(ctx.now, f"{done} may not have happened (autoheal stopped mid-call); not repeated")
        return NEXT
    data["intent"] = True
    ctx.checkpoint(ctx.incident)
    call(targets)
    data["requested"] = True
    ctx.checkpoint(ctx.incident)
    ctx.engine.notifier.send(ctx.incident, "action", f"{done}: {', '.join(targets)}")
    return NEXT
