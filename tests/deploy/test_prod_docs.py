"""The prod config and the operating guide agree: the chat webhook is optional, and stored safely."""

from __future__ import annotations

import re
from pathlib import Path

from autoheal_ops.iam import stage_config

ROOT = Path(__file__).resolve().parents[2]


def test_prod_needs_no_chat_webhook_until_one_is_stored() -> None:
    settings = stage_config("prod").settings
    assert settings.chat_webhook_parameter is None
    assert "chat" not in str(settings.notify)


def test_no_instruction_passes_a_url_as_a_put_parameter_value() -> None:
    """AWS CLI v1 fetches an http(s) --value and stores the response, not the URL."""
    guide = (ROOT / "docs" / "operating.md").read_text()
    assert "put-parameter" in guide
    assert "file://webhook.txt" in guide
    # A command may continue on the next line (`\`): join them before looking at --value.
    joined = re.sub(r"\\\n\s*", " ", guide)
    assert not re.search(r"put-parameter[^\n`]*--value\s+['\"]?https?://", joined)
