"""The one exception a bad config raises."""

from __future__ import annotations


class ConfigError(ValueError):
    """Every problem in a config file, each prefixed by its key path.

    >>> str(ConfigError(["monitors[2].timeout: expected a duration like \\"5s\\""]))
    'invalid config (1 error):\\n  monitors[2].timeout: expected a duration like "5s"'
    """

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        count = f"{len(self.errors)} error{'s' if len(self.errors) != 1 else ''}"
        super().__init__(f"invalid config ({count}):\n" + "\n".join(f"  {e}" for e in self.errors))
