"""Where log lines go, and what never reaches them: secrets printed by AWS and HTTP libraries."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any, Mapping, TextIO


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


def json_line(log: Mapping[str, Any]) -> str:
    """Powertools' own serializer (compact, UTF-8 kept), with U+2028 and U+2029 escaped.

    JSON allows both raw, but JavaScript before ES2019 and many line-oriented log tools read them
    as line breaks: text from an alarm could split one log line into two.

    >>> json_line({"message": "a\u2028b"}) == '{"message":"a' + chr(92) + 'u2028b"}'
    True
    """
    text = json.dumps(log, default=str, separators=(",", ":"), ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# Libraries that, at DEBUG, print whole request and response bodies: an SSM GetParameter
# response carries the decrypted SecureString (the chat webhook URL) in its "Value".
NOISY_LIBRARIES = ("botocore", "boto3", "urllib3", "s3transfer")
_JSON_VALUE = re.compile(r'("(?:Value|SecretString)"\s*:\s*")((?:[^"\\]|\\.)*)(")')


class SecretFilter(logging.Filter):
    """Blanks secret values in the records of `NOISY_LIBRARIES`, whatever the level or handler.

    Every `"Value": "..."` (SSM parameters) and every registered secret becomes "***".

    >>> SecretFilter().redact('{"Parameter": {"Type": "SecureString", "Value": "https://hooks/x"}}')
    '{"Parameter": {"Type": "SecureString", "Value": "***"}}'
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if len(secret) >= 8:  # shorter would blank ordinary words
            self.secrets.add(secret)

    def redact(self, text: str) -> str:
        text = _JSON_VALUE.sub(r"\1***\3", text)
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] in NOISY_LIBRARIES:
            try:
                text = record.getMessage()
            except Exception:  # noqa: BLE001 - a malformed record: drop its arguments, keep the template
                text = str(record.msg)
            redacted = self.redact(text)
            if redacted != text or record.args:
                record.msg, record.args = redacted, None
        return True


SECRETS = SecretFilter()


def install_secret_filter() -> None:
    """Filter every record as it is made.

    A filter on the "botocore" logger would not see "botocore.parsers" (filters do not apply to
    records of child loggers), and handlers come and go (Lambda's, pytest's), so the filter runs
    in the record factory, once per record, before any handler.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "secret_filter", None) is SECRETS:
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        SECRETS.filter(record)
        return record

    factory.secret_filter = SECRETS  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def add_secret(secret: str) -> None:
    """Never print `secret` in a library's log line (e.g. a webhook URL once it is known)."""
    SECRETS.add(secret)


install_secret_filter()
