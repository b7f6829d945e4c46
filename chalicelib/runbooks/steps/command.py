"""Sending an SSM command as a step: never twice, and never lost if the Lambda dies.

The intent (a token carried in the command's Comment) is checkpointed before SendCommand and the
command id right after it. A run resumed after a crash between the two finds its command by the
token instead of sending another; a run resumed after the command id was recorded only waits.
"""

from __future__ import annotations

import uuid
from typing import Mapping, Sequence

from chalicelib.runbooks.steps.base import NEXT, PAUSE, StepContext

COMMAND_WAIT = 60.0  # how long a step waits for the agent's answer before moving on to verify


def send_command_step(
    ctx: StepContext, document: str, parameters: Mapping[str, Sequence[str]], summary: str
) -> str:
    engine, incident, run = ctx.engine, ctx.incident, ctx.incident.run
    data = run.step_data
    if "command_id" not in data:
        if "token" in data:  # the last invocation died between intent and checkpoint
            found = engine.actions.find_command(data["token"], data["sent_after"])
            if found:
                record_command(ctx, found, summary, recovered=True)
        if "command_id" not in data:
            data.update(token=uuid.uuid4().hex[:16], sent_after=ctx.now - 5)
            ctx.checkpoint(incident)
            comment = f"autoheal {data['token']} {incident.key}"
            command_id = engine.actions.send(document, ctx.targets, parameters, comment, len(ctx.targets))
            record_command(ctx, command_id, summary)
    until = min(ctx.deadline, engine.clock.monotonic() + COMMAND_WAIT)
    if engine.clock.monotonic() >= until:
        return PAUSE
    results = engine.actions.wait(data["command_id"], ctx.targets, until)
    statuses = ", ".join(
        f"{r.instance_id} {r.status}" + (f" ({last_line(r.output)})" if r.output else "") for r in results
    )
    incident.tell(ctx.now, f"command {data['command_id']}: {statuses}")
    return NEXT


def record_command(ctx: StepContext, command_id: str, summary: str, recovered: bool = False) -> None:
    run = ctx.incident.run
    run.step_data["command_id"] = command_id
    if command_id not in run.commands:
        run.commands.append(command_id)
    ctx.checkpoint(ctx.incident)  # at once: a resumed run must wait for this command, not resend
    found = " (found after a restart of autoheal)" if recovered else ""
    ctx.engine.notifier.send(
        ctx.incident,
        "action",
        f"{summary} sent to {', '.join(ctx.targets)} (command {command_id}){found}",
        command_id=command_id,
    )


def last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1][:120] if lines else ""
