"""Subscribe an address to the notify topic for some components; SNS asks it to confirm.

A subscription is pending until the person follows the link in SNS's confirmation e-mail:
until then SNS sends it nothing else, so nothing but that confirmation reaches an address that
did not ask. An address may ask `PER_DAY` times a day (one atomic counter per address and day,
keyed by a digest of the address so the table holds no address).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Collection, Optional

from chalicelib.aws import clients, dynamodb
from chalicelib.subscriptions.form import FormError, SubscribeRequest, read_form

PER_DAY = 3
PARTITION = "subscribe"
AUDIENCE = "public"


@dataclass(frozen=True)
class SubscribeOutcome:
    status: int  # HTTP status for the answer page
    message: str  # what the person reads


class Subscriptions:
    """>>> Subscriptions(arn, "autoheal-state", ["API"]).handle(b"email=a%40b.example")  # doctest: +SKIP"""

    def __init__(
        self,
        topic_arn: str,
        table_name: str,
        components: Collection[str],
        sns: Optional[Callable[[], Any]] = None,
    ) -> None:
        self.topic_arn = topic_arn
        self.table_name = table_name
        self.components = list(components)
        self.sns = sns or (lambda: clients.client("sns"))

    def handle(self, body: Any, now: float) -> SubscribeOutcome:
        try:
            request = read_form(body, self.components)
        except FormError as exc:
            return SubscribeOutcome(400, str(exc))
        if not self.admit(request.email, now):
            return SubscribeOutcome(429, "This address has asked often today; please try again tomorrow.")
        self.subscribe(request)
        return SubscribeOutcome(
            202, f"Check {request.email}: follow the link in the e-mail to confirm the subscription."
        )

    def admit(self, email: str, now: float) -> bool:
        day = int(now // 86400)
        digest = hashlib.sha256(email.lower().encode()).hexdigest()[:32]
        count = dynamodb.increment(
            self.table_name, PARTITION, f"{digest}#{day}", "asked", below=PER_DAY, expires=(day + 2) * 86400
        )
        return count is not None

    def subscribe(self, request: SubscribeRequest) -> str:
        answer = self.sns().subscribe(
            TopicArn=self.topic_arn,
            Protocol="email",
            Endpoint=request.email,
            Attributes={"FilterPolicy": json.dumps(filter_policy(request.components))},
            ReturnSubscriptionArn=True,
        )
        return str(answer["SubscriptionArn"])


def filter_policy(components: Collection[str]) -> dict[str, list[str]]:
    return {"audience": [AUDIENCE], "component": sorted(components)}
