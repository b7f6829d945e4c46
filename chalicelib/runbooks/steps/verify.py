"""`verify`: probe the monitors until all pass `success_threshold` times in a row, or time is up.

Healthy ends the run (healed); time up moves on to the next step, or, after an action rolled over
one wave of targets, back to that action for the next wave. A scheduled run is the other way
round: healthy goes on to the next wave, and time up stops the run and tells people. The window
is kept on the wall clock in the run, so a verify cut short by the Lambda's deadline continues
with the time it had left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from chalicelib.config.fields import Section
from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import ESCALATED, NEXT, PAUSE, StepContext, StepKind

if TYPE_CHECKING:
    from chalicelib.config.model import Config

VERIFY_INTERVAL = 2.0


@register
class Verify(StepKind):
    kind = "verify"

    @classmethod
    def read(cls, s: Section) -> dict[str, Any]:
        params = {"monitors": s.string_list("monitors"), "within": s.duration("within", 120.0)}
        if not params["monitors"]:
            s.error("expected at least one monitor name", "monitors")
        return params

    @classmethod
    def cross_check(cls, params: Mapping[str, Any], config: Config, where: str) -> list[str]:
        names = {m.name for m in config.monitors}
        missing = [m for m in params.get("monitors", ()) if m not in names]
        return [f"{where}.monitors: no monitor named {m!r}" for m in missing]

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        engine, run = ctx.engine, ctx.incident.run
        monitors = [m for m in (engine.config.monitor(n) for n in params["monitors"]) if m is not None]
        needed = max((m.success_threshold for m in monitors), default=1)
        cycle = max((m.timeout * m.attempts for m in monitors), default=1.0) + VERIFY_INTERVAL
        if run.step_started_at is None:
            run.step_started_at = ctx.now
        ends_at = run.step_started_at + params["within"]
        failing = "no check ran"
        while ctx.now < ends_at:
            engine.heartbeat(ctx.incident, ctx.checkpoint)
            if engine.clock.monotonic() + cycle > ctx.deadline:
                return PAUSE
            results = engine.verifier(monitors, engine.clock.monotonic() + cycle)
            bad = [r for r in results if not r.ok]
            run.verify_streak = 0 if bad else run.verify_streak + 1
            failing = "; ".join(f"{r.monitor}: {r.reason}" for r in bad) or failing
            if run.verify_streak >= needed:
                return engine.verified(ctx.incident, f"verified: {', '.join(params['monitors'])} healthy")
            engine.clock.sleep(VERIFY_INTERVAL)
        line = f"verify failed within {params['within']:g}s: {failing}"
        if run.scheduled:  # a scheduled run broke what was working: stop before the next target
            engine.escalate(ctx.incident, f"{run.runbook} (scheduled): {line}; no other target touched")
            return ESCALATED
        ctx.incident.tell(ctx.now, line)
        return NEXT
