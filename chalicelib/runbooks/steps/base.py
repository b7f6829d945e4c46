"""What every runbook step kind implements, and what it is handed when it runs.

A step kind is a `config.kinds.Kind`: it reads and validates its own config section, declares
the IAM statements it needs (`grants`), its cross-checks and `check --live` look-ups, and
executes, returning an outcome:

- ``NEXT``: done here, go on to the next step;
- ``PAUSE``: out of time in this invocation, continue from this step on the next;
- ``HEALED``: verified healthy, the run ends;
- ``ESCALATED``: people were told, the run ends and autoheal stops acting;
- ``MOVED``: the step placed the run where it goes on (the engine does not advance it).

>>> @register
... class Wait(StepKind):
...     kind = "wait"
...     @classmethod
...     def read(cls, s): return {"for": s.duration("for", 10.0)}
...     def execute(self, ctx, params): return NEXT   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

from chalicelib.config.kinds import Grant, Kind

if TYPE_CHECKING:
    from chalicelib.runbooks.engine import RunbookEngine
    from chalicelib.runbooks.incident import Incident

NEXT, PAUSE = "next", "pause"
MOVED = "moved"  # the step moved the run itself (a scheduled run's verify, on to the next wave)
HEALED, ESCALATED = "healed", "escalated"  # the same words as RunPosition states


@dataclass
class StepContext:
    """One step's view of its run: the engine's collaborators, the incident, this wave's targets."""

    engine: RunbookEngine
    incident: Incident
    targets: list[str]  # the wave this step acts on (never more than max_concurrent)
    deadline: float  # monotonic; the step must return PAUSE rather than run past it
    checkpoint: Callable[[Incident], None]

    @property
    def now(self) -> float:
        return self.engine.clock.now()


# What sending an SSM command to a stage's instances takes (restart, run).
SEND_COMMAND = (
    Grant("StepReads", ("ssm:GetCommandInvocation", "ssm:ListCommands"), "*"),
    Grant("SendCommandTagged", ("ssm:SendCommand",), "stage-instances:ssm"),
    Grant("SendCommandDocuments", ("ssm:SendCommand",), "documents"),
)


class StepKind(Kind):
    """One kind of step. Subclasses set `kind`, `grants` and implement `read` and `execute`."""

    # True for steps that change the targets (restart, reboot, ...): the engine rolls them over
    # the targets one wave at a time, with the verify that follows between waves.
    acts_on_targets: ClassVar[bool] = False

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        raise NotImplementedError
