"""Where log lines go."""

from __future__ import annotations

import logging
import sys
from typing import TextIO


class CurrentStdoutHandler(logging.StreamHandler):
    """Writes to whatever `sys.stdout` is at the time of each line.

    Lambda never swaps stdout, but the local world and the tests do (to keep the demo's timeline
    clean, to capture output); a handler holding on to an old, closed stream would fail, and a
    failing handler prints the exception being handled, which may carry a secret URL.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current stdout
