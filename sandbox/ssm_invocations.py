"""How the sandbox's SSM agent reports what a command did, so GetCommandInvocation tells it.

moto records ``send_command`` and answers every invocation "Success" with no output, at once:
a restart that failed on the host would look done. On AWS the agent on the instance reports
back; here the agent claims its instances (``POST /moto-api/ssm-agent/claim``) and reports each
invocation's outcome (``POST /moto-api/ssm-agent/report``), two routes :func:`patch_moto` adds
to moto's own API. An invocation on a claimed instance is ``Pending`` until reported; instances
no agent claimed keep moto's answer.

>>> report(endpoint, Report(command_id, instance_id, "Failed", 1, "", "boom"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any, Iterable

OUTPUT_LIMIT = 24_000  # characters of stdout, and of stderr, GetCommandInvocation returns
CLAIM_PATH = "/moto-api/ssm-agent/claim"
REPORT_PATH = "/moto-api/ssm-agent/report"

_claimed: set[str] = set()  # in moto's process: instance ids an agent runs commands on
_lock = threading.Lock()


@dataclass(frozen=True)
class Report:
    """One invocation's outcome as the agent reports it (SSM's statuses: Success, Failed, ...)."""

    command_id: str
    instance_id: str
    status: str
    response_code: int
    stdout: str
    stderr: str
    status_details: str = ""


def truncated(text: str) -> str:
    """What SSM keeps of an output stream: its first 24,000 characters."""
    return text[:OUTPUT_LIMIT]


# -- the agent's side ------------------------------------------------------------------------


def claim(endpoint: str, instance_ids: Iterable[str]) -> None:
    _post(endpoint + CLAIM_PATH, {"instance_ids": sorted(instance_ids)})


def report(endpoint: str, outcome: Report) -> None:
    _post(endpoint + REPORT_PATH, asdict(outcome))


def _post(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


# -- moto's side -------------------------------------------------------------------------------


def patch_moto() -> None:
    """Add the claim and report routes to moto's API, and keep claimed invocations Pending."""
    from moto.moto_api._internal import urls
    from moto.ssm.models import Command

    urls.url_paths["{0}" + CLAIM_PATH + "$"] = _claim_view
    urls.url_paths["{0}" + REPORT_PATH + "$"] = _report_view
    if getattr(Command.invocation_response, "claimed", False):
        return
    original = Command.invocation_response

    def invocation_response(self: Command, instance_id: str, plugin_name: str) -> dict[str, Any]:
        invocation = original(self, instance_id, plugin_name)
        with _lock:
            if instance_id in _claimed:  # as SSM answers before the agent has reported
                invocation.update(Status="Pending", StatusDetails="Pending", ResponseCode=-1)
        return invocation

    invocation_response.claimed = True  # type: ignore[attr-defined]
    Command.invocation_response = invocation_response  # type: ignore[method-assign]


def _claim_view(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    body = json.loads(request.data or b"{}")
    with _lock:
        _claimed.update(body.get("instance_ids", []))
    return 200, {}, ""


def _report_view(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    from moto.ssm.models import ssm_backends

    body = json.loads(request.data or b"{}")
    for account in ssm_backends.values():
        for backend in account.values():
            for command in backend._commands:
                if command.command_id != body["command_id"]:
                    continue
                for invocation in command.invocations:
                    if invocation["InstanceId"] == body["instance_id"]:
                        invocation.update(
                            Status=body["status"],
                            StatusDetails=body.get("status_details") or body["status"],
                            ResponseCode=body["response_code"],
                            StandardOutputContent=truncated(body["stdout"]),
                            StandardErrorContent=truncated(body["stderr"]),
                        )
                        return 200, {}, ""
    return 404, {}, "no such invocation"
