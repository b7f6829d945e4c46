"""The AWS side of runbook steps, behind one small interface so the engine is testable without AWS."""

from __future__ import annotations

from typing import Mapping, Protocol, Sequence

from chalicelib.aws import ec2, ssm
from chalicelib.config.loader import SERVICE_NAME, USER_NAME
from chalicelib.config.model import SERVICE_MANAGERS, Targets


class UnsafeParameter(ValueError):
    """A restart parameter that does not match the document's allowedPattern: never sent."""


class Actions(Protocol):
    def resolve(self, targets: Targets) -> list[str]: ...
    def send(
        self,
        document: str,
        instance_ids: Sequence[str],
        parameters: Mapping[str, Sequence[str]],
        comment: str,
    ) -> str: ...
    def wait(
        self, command_id: str, instance_ids: Sequence[str], until: float
    ) -> list[ssm.InvocationResult]: ...
    def reboot(self, instance_ids: Sequence[str]) -> None: ...
    def replace(self, instance_ids: Sequence[str]) -> None: ...


def restart_parameters(service: object, manager: object, user: object = None) -> dict[str, list[str]]:
    """The restart document's parameters, checked here as the document's allowedPattern does.

    >>> restart_parameters("web", "pm2", "ec2-user")
    {'service': ['web'], 'manager': ['pm2'], 'user': ['ec2-user']}
    """
    if not isinstance(service, str) or not SERVICE_NAME.fullmatch(service):
        raise UnsafeParameter(
            "restart service: expected a letter or digit, then letters, digits and _.@- (at most 64)"
        )
    if manager not in SERVICE_MANAGERS:
        raise UnsafeParameter(f"restart manager: expected one of {', '.join(SERVICE_MANAGERS)}")
    if user is not None and (not isinstance(user, str) or not USER_NAME.fullmatch(user)):
        raise UnsafeParameter(f"restart user: expected a Linux user name ({USER_NAME.pattern})")
    if manager == "pm2" and user is None:
        raise UnsafeParameter("restart user: required for pm2 (PM2 keeps one daemon per user)")
    if manager == "docker" and user is not None:
        raise UnsafeParameter("restart user: not allowed for docker")
    parameters = {"service": [service], "manager": [str(manager)]}
    if user is not None:  # the document's default ("") means no user
        parameters["user"] = [str(user)]
    return parameters


class AwsActions:
    """>>> AwsActions().resolve(Targets(tag={"app": "web"}))  # doctest: +SKIP"""

    def resolve(self, targets: Targets) -> list[str]:
        if targets.instance_ids:
            return list(targets.instance_ids)
        if targets.target_group:
            return ec2.unhealthy_targets(targets.target_group)
        return ec2.running_instances_tagged(targets.tag)

    def send(
        self,
        document: str,
        instance_ids: Sequence[str],
        parameters: Mapping[str, Sequence[str]],
        comment: str,
    ) -> str:
        return ssm.send_command(document, instance_ids, parameters, comment)

    def wait(self, command_id: str, instance_ids: Sequence[str], until: float) -> list[ssm.InvocationResult]:
        return ssm.wait_for_invocations(command_id, instance_ids, until)

    def reboot(self, instance_ids: Sequence[str]) -> None:
        ec2.reboot(instance_ids)

    def replace(self, instance_ids: Sequence[str]) -> None:
        ec2.mark_unhealthy(instance_ids)
