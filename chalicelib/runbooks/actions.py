"""The AWS side of runbook steps, behind one small interface so the engine is testable without AWS."""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Protocol, Sequence

from chalicelib.aws import ec2, ssm
from chalicelib.config.fields import Section
from chalicelib.config.model import SERVICE_MANAGERS, Targets
from chalicelib.runbooks.scope import SignalScope

# The restart document's parameters: the same allowedPattern is in resources/autoheal.yaml. A
# leading letter or digit, so no value can pass for an option of pm2, systemctl or docker.
SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
# A Linux login name, as useradd's default NAME_REGEX (the document also accepts "" for none).
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class UnsafeParameter(ValueError):
    """A restart parameter that does not match the document's allowedPattern: never sent."""


class Actions(Protocol):
    def resolve(self, targets: Targets) -> list[str]: ...
    def named(self, scope: SignalScope) -> list[str]: ...
    def send(
        self,
        document: str,
        instance_ids: Sequence[str],
        parameters: Mapping[str, Sequence[str]],
        comment: str,
        max_concurrency: int,
        output: Optional[ssm.OutputBucket] = None,
        delivery_timeout: int = 600,
    ) -> str: ...
    def find_command(self, token: str, sent_after: float) -> Optional[str]: ...
    def wait(
        self, command_id: str, instance_ids: Sequence[str], until: float
    ) -> list[ssm.InvocationResult]: ...
    def reboot(self, instance_ids: Sequence[str]) -> None: ...
    def replace(self, instance_ids: Sequence[str]) -> None: ...


def read_service(s: Section) -> dict[str, Any]:
    """`service`, `manager` and `user`, as the restart and diagnose documents take them: `user`
    is required for pm2, optional for systemd (a user unit), refused for docker (containers
    belong to the docker daemon)."""
    service = s.string("service")
    if isinstance(service, str) and not SERVICE_NAME.fullmatch(service):
        s.error(
            "expected a service name starting with a letter or digit, then letters, digits"
            " and _.@- (at most 64)",
            "service",
        )
    manager = s.choice("manager", SERVICE_MANAGERS, "pm2")
    known_manager = s.data.get("manager", "pm2") == manager  # an unknown one is reported already
    user = s.string("user", None)
    if isinstance(user, str) and not USER_NAME.fullmatch(user):
        s.error(f"expected a Linux user name like ec2-user ({USER_NAME.pattern})", "user")
        user = None
    elif known_manager and user is None and manager == "pm2" and "user" not in s.data:
        s.error("required for manager pm2 (PM2 keeps one daemon per user), e.g. ec2-user or ubuntu", "user")
    elif known_manager and user is not None and manager == "docker":
        s.error("not allowed for manager docker (containers belong to the docker daemon)", "user")
    return {"service": service, "manager": manager, "user": user}


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

    def __init__(self, polls: Optional[ssm.Backoff] = None) -> None:
        self.polls = polls or ssm.Backoff()  # between the polls of a command's result

    def resolve(self, targets: Targets) -> list[str]:
        if targets.instance_ids:
            return list(targets.instance_ids)
        if targets.target_group:
            return ec2.unhealthy_targets(targets.target_group)
        return ec2.running_instances_tagged(targets.tag)

    def named(self, scope: SignalScope) -> list[str]:
        """The instances a signal names: its instance, its group's instances, or its target
        group's unhealthy targets (all its targets when none is unhealthy yet)."""
        if scope.instance_ids:
            return list(scope.instance_ids)
        if scope.auto_scaling_group:
            return ec2.auto_scaling_group_instances(scope.auto_scaling_group)
        if scope.target_group:
            health = ec2.target_health(scope.target_group)
            return sorted(i for i, s in health.items() if s == "unhealthy") or sorted(health)
        return []

    def send(
        self,
        document: str,
        instance_ids: Sequence[str],
        parameters: Mapping[str, Sequence[str]],
        comment: str,
        max_concurrency: int = 1,
        output: Optional[ssm.OutputBucket] = None,
        delivery_timeout: int = 600,
    ) -> str:
        return ssm.send_command(
            document, instance_ids, parameters, comment, max_concurrency, output, delivery_timeout
        )

    def find_command(self, token: str, sent_after: float) -> Optional[str]:
        return ssm.find_command(token, sent_after)

    def wait(self, command_id: str, instance_ids: Sequence[str], until: float) -> list[ssm.InvocationResult]:
        return ssm.wait_for_invocations(command_id, instance_ids, until, self.polls)

    def reboot(self, instance_ids: Sequence[str]) -> None:
        ec2.reboot(instance_ids)

    def replace(self, instance_ids: Sequence[str]) -> None:
        ec2.mark_unhealthy(instance_ids)
