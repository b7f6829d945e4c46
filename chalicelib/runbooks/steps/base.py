"""What every runbook step kind implements, and what it is handed when it runs.

A step kind reads and validates its own config section, declares the IAM actions it needs (the
shipped policy is checked against them), and executes, returning an outcome:

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

if TYPE_CHECKING:
    from chalicelib.config.fields import Section
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


class StepKind:
    """One kind of step. Subclasses set `kind`, `iam_actions` and implement `read` and `execute`."""

    kind: ClassVar[str] = ""
    iam_actions: ClassVar[tuple[str, ...]] = ()
    # True for steps that change the targets (restart, reboot, ...): the engine rolls them over
    # the targets one wave at a time, with the verify that follows between waves.
    acts_on_targets: ClassVar[bool] = False

    @classmethod
    def read(cls, s: Section) -> dict[str, Any]:
        """Validated params from the step's config section; errors go to `s` by key path."""
        return {}

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        raise NotImplementedError
