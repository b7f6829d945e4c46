"""Send "autoheal test" through every configured channel, and say which took it.

For an operator checking subscriptions and the chat webhook after a deploy, or after changing
them. Nothing else happens: no incident is written, no runbook runs.

>>> send_test_message(fan_out(config.settings))  # doctest: +SKIP
{'sent': ['email', 'sms', 'chat'], 'failed': []}

From a shell with the stage's AWS credentials (AUTOHEAL_CONFIG names the stage's file):
`python -m chalicelib.notify.test_message`
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from chalicelib.notify.notice import Notice
from chalicelib.notify.providers import FanOut

TITLE = "autoheal test"


def test_notice(now: datetime | None = None) -> Notice:
    at = now or datetime.now(UTC)
    line = f"{at:%H:%M:%S} a test message: if you read this, this channel reaches you"
    return Notice("test", "test", TITLE, lines=(line,), at=at)


test_notice.__test__ = False  # a builder named after the message, not a test for pytest to collect


def send_test_message(fanout: FanOut) -> dict[str, Any]:
    failed = fanout.send(test_notice())
    return {"sent": [n for n in fanout.names if n not in failed], "failed": failed}


def main() -> int:
    """The stage's channels, from the config `AUTOHEAL_CONFIG` names (as the functions read it)."""
    import os
    from pathlib import Path

    from chalicelib.config import load_config
    from chalicelib.notify.channels import fan_out

    path = Path(os.environ.get("AUTOHEAL_CONFIG", "chalicelib/configs/example.yaml"))
    config = load_config(str(path if path.is_absolute() else Path(__file__).resolve().parents[2] / path))
    result = send_test_message(fan_out(config.settings))
    print(json.dumps(result))
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
