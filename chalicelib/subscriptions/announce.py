"""Public incident notices for subscribers: what the status page says, per affected component.

Each is published once per component with the message attributes `audience` ("public") and
`component`, which subscribers' filter policies match; the text is the page's own public
words (title, affected components, the public steps of the story), never the operators'.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping, Optional

from chalicelib.aws import clients
from chalicelib.notify.format import one_line
from chalicelib.subscriptions.service import AUDIENCE

KINDS = {"opened": "Incident", "resolved": "Resolved"}


class PublicNotices:
    def __init__(
        self, topic_arn: str, components: list[str], sns: Optional[Callable[[], Any]] = None
    ) -> None:
        self.topic_arn = topic_arn
        self.components = components
        self.sns = sns or (lambda: clients.client("sns"))

    def announce(self, view: Mapping[str, Any], kind: str, page_url: str = "") -> int:
        """Publish `view` (statuspage.extras.incident_view) as `kind`; returns messages sent."""
        affected = list(view.get("components") or self.components)
        subject = one_line(f"{KINDS[kind]}: {view['title']}")[:99]
        steps = [one_line(str(step["text"])) for step in view.get("timeline", [])]
        body = "\n".join(
            [subject, f"Affects: {', '.join(affected)}.", *steps, *([page_url] if page_url else [])]
        )
        for component in affected:
            self.sns().publish(
                TopicArn=self.topic_arn,
                Subject=subject,
                Message=json.dumps({"default": body, "email": body}, ensure_ascii=False),
                MessageStructure="json",
                MessageAttributes={
                    "audience": {"DataType": "String", "StringValue": AUDIENCE},
                    "component": {"DataType": "String", "StringValue": component},
                },
            )
        return len(affected)
