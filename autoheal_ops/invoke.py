"""Invoke a stage's functions through Lambda's Invoke API (deployed, or the local world's).

>>> Functions("dev").call("maintenance", {"action": "status"})  # doctest: +SKIP
{'mode': 'off', ...}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from autoheal_ops.stage import StageNames


class InvokeError(RuntimeError):
    pass


@dataclass
class Functions:
    stage: str
    client: Any = None

    def lambda_client(self) -> Any:
        if self.client is None:
            import boto3  # the operator's own credentials; AWS_ENDPOINT_URL_LAMBDA for the local world

            self.client = boto3.client("lambda")
        return self.client

    def call(self, function: str, payload: dict) -> Any:
        name = StageNames(self.stage).function(function)
        answer = self.lambda_client().invoke(FunctionName=name, Payload=json.dumps(payload).encode())
        body = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            raise InvokeError(
                f"{name} failed: {body.get('errorMessage') if isinstance(body, dict) else body}"
            )
        return body
