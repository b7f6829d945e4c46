"""Does a config name only what its stage creates and grants? (`python -m autoheal_ops check`)

A config that renames the table would pass the loader and then be denied at run time: the
stage's policies grant its own names only. This compares, offline, each AWS name in `settings`
with the stage's, and each runbook's target tags with what the policies were generated for.
"""

from __future__ import annotations

import re
from typing import Any

from autoheal_ops.stage import StageNames

SETTINGS = (
    "state_table",
    "alarm_topic",
    "notify_topic",
    "status_bucket",
    "restart_document",
    "chat_webhook_parameter",
)


def name_errors(stage: str, config: Any) -> list[str]:
    """One line per setting that names something the stage neither creates nor grants."""
    names = StageNames(stage)
    errors = []
    for key in SETTINGS:
        found = getattr(config.settings, key)
        expected = getattr(names, key)
        if found is not None and found != expected and not _same_bucket(key, found, expected):
            errors.append(
                f"settings.{key}: {found!r} is not what the {stage} stage creates and grants"
                f" (expected {expected!r}; write ${{AUTOHEAL_{key.upper()}}})"
            )
    return errors


def _same_bucket(key: str, found: str, expected: str) -> bool:
    """The bucket's account and region are filled in at deploy time: match them as such."""
    if key != "status_bucket":
        return False
    pattern = re.escape(expected).replace(re.escape("${AWS::AccountId}"), r"\d{12}")
    pattern = pattern.replace(re.escape("${AWS::Region}"), "[a-z]{2}(-[a-z]+)+-[0-9]")
    return re.fullmatch(pattern, found) is not None
