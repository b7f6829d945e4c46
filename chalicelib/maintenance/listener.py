"""Maintenance on the ALB: the listener's default action points at the maintenance page while a
rule keeps the health-check paths reaching the app; afterwards the traffic as it is then returns.

Both go through the listener's one owner (chalicelib.listeners): the page is an overlay on the
listener's desired traffic, written as an intent before the listener changes, so a crash mid-way
is finished by `reconcile` (or by calling `divert` or `restore` again), a shift during the
maintenance moves the traffic beneath the page, and `restore` puts back the traffic as it is then.

>>> gate = ListenerMaintenance("autoheal-state", "web-alb", 443, page_url="https://status.example.com/maintenance.html")
>>> gate.divert("database upgrade")   # doctest: +SKIP
>>> gate.restore()                    # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence
from urllib.parse import urlsplit

from chalicelib.aws.clients import region
from chalicelib.aws.elbv2 import Elbv2, Forward, ListenerError
from chalicelib.aws.fixed_response import FIXED_RESPONSE_LIMIT, fixed_page
from chalicelib.config.model import Config
from chalicelib.listeners.owner import ListenerOwner

HEALTH_PATHS = ("/healthz", "/api/healthz")


def redirect_to(page_url: str) -> dict[str, Any]:
    parts = urlsplit(page_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ListenerError(f"page_url: expected an http(s) URL, got {page_url!r}")
    config = {
        "Protocol": parts.scheme.upper(),
        "Host": parts.hostname,
        "Port": str(parts.port or (443 if parts.scheme == "https" else 80)),
        "Path": parts.path or "/",
        "Query": parts.query,
        "StatusCode": "HTTP_302",  # temporary: browsers must come back to the app afterwards
    }
    return {"Type": "redirect", "RedirectConfig": config}


class ListenerMaintenance:
    """divert(reason) / restore() on one listener; `form` is "redirect" or "fixed-response"."""

    def __init__(
        self,
        table_name: str,
        load_balancer: str,
        port: int,
        page_url: str,
        form: str = "redirect",
        health_paths: Sequence[str] = HEALTH_PATHS,
        elb: Optional[Elbv2] = None,
        owner: Optional[ListenerOwner] = None,
        fallback: Callable[[], Optional[Forward]] = lambda: None,
    ) -> None:
        if form not in ("redirect", "fixed-response"):
            raise ListenerError(f"form: expected redirect or fixed-response, got {form!r}")
        if not 1 <= len(health_paths) <= 5:  # one path-pattern condition takes at most 5 values
            raise ListenerError(f"health_paths: expected 1 to 5 paths, got {len(health_paths)}")
        self.table_name = table_name
        self.load_balancer = load_balancer
        self.port = port
        self.page_url = page_url
        self.form = form
        self.health_paths = tuple(health_paths)
        self.elb = elb or Elbv2()
        self.owner = owner or ListenerOwner(table_name, self.elb)
        self.fallback = fallback  # the traffic to restore when none is saved
        redirect_to(page_url)  # validates the URL now, before anything changes

    def maintenance_action(self, reason: str) -> dict[str, Any]:
        if self.form == "redirect":
            return redirect_to(self.page_url)
        body = fixed_page(self.page_url, reason)
        if len(body.encode()) > FIXED_RESPONSE_LIMIT:
            body = fixed_page(self.page_url, "")  # the reason is on the full page anyway
        if len(body.encode()) > FIXED_RESPONSE_LIMIT:
            raise ListenerError(f"page_url: too long for a {FIXED_RESPONSE_LIMIT}-byte fixed response")
        config = {"StatusCode": "503", "ContentType": "text/html", "MessageBody": body}
        return {"Type": "fixed-response", "FixedResponseConfig": config}

    # -- the interface --------------------------------------------------------------------------
    def divert(self, reason: str) -> dict[str, Any]:
        """Send users to the maintenance page; the health-check paths keep reaching the app.
        The traffic beneath is kept by the listener's owner: a shift meanwhile moves it."""
        listener = self.elb.find_listener(self.load_balancer, self.port)
        action = self.maintenance_action(reason)  # refused here, before anything is written
        desired = self.owner.divert(listener, [action], reason, self.health_condition(), name=self.name)
        return {"diverted": True, "listener": listener, "previous": list(desired.traffic)}

    def diverted(self) -> bool:
        """Whether a divert is on record (and not yet restored): one Query, no ELB call, so it
        is cheap enough for every follow_up minute."""
        return any(d.diverted and d.name == self.name for d in self.owner.store.all())

    def restore(self) -> dict[str, Any]:
        """Put back the traffic as it is now (or the deployment's stable group when autoheal has
        no saved traffic), drop the health rule."""
        listener = self.elb.find_listener(self.load_balancer, self.port)
        before = self.owner.state(listener, self.name)
        if before.overlay is None:
            return {"diverted": False, "listener": listener}
        desired = self.owner.restore(listener, self.fallback, name=self.name)
        return {"diverted": False, "listener": listener, "restored": list(desired.traffic)}

    # -- helpers --------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"{self.load_balancer}:{self.port}"

    def health_condition(self) -> list[dict[str, Any]]:
        return [{"Field": "path-pattern", "PathPatternConfig": {"Values": list(self.health_paths)}}]


class NoListener:
    """The config names no listener: maintenance is recorded and shown, the ALB is left alone."""

    def divert(self, reason: str) -> dict[str, Any]:
        return {"diverted": False, "listener": None}

    def restore(self) -> dict[str, Any]:
        return {"diverted": False, "listener": None}

    def diverted(self) -> bool:
        return False


def website_url(bucket: str, region: str) -> str:
    """The status bucket's S3 website endpoint (the dash form, valid in every region)."""
    return f"http://{bucket}.s3-website-{region}.amazonaws.com/maintenance.html"


def listener_for(
    config: Config, owner: ListenerOwner, records: Callable[[str], Any]
) -> ListenerMaintenance | NoListener:
    """The ALB side of maintenance as `maintenance.listener` configures it (NoListener without);
    `records(deployment name)` reads a deployment's record (DeploymentStore.get)."""
    settings = config.maintenance.listener
    if settings is None:
        return NoListener()
    page_url = settings.page_url or website_url(config.settings.status_bucket, region())
    return ListenerMaintenance(
        config.settings.state_table,
        settings.load_balancer,
        settings.port,
        page_url,
        form=settings.form,
        health_paths=config.maintenance.health_paths,
        owner=owner,
        fallback=lambda: stable_traffic(config, settings.load_balancer, settings.port, records, owner.elb),
    )


def stable_traffic(
    config: Config, load_balancer: str, port: int, records: Callable[[str], Any], elb: Elbv2
) -> Optional[Forward]:
    """The shipped default of a listener autoheal has no saved traffic for: the group its
    deployment serves from (the promoted candidate, else the stable), or blue before any shift."""
    from chalicelib.deployments.model import PROMOTED

    for deployment in config.deployments.values():
        if (deployment.listener.load_balancer, deployment.listener.port) != (load_balancer, port):
            continue
        record = records(deployment.name)
        if record is None:
            return Forward({elb.target_group_arn(deployment.blue): 1}, {"Enabled": False})
        serving = record.candidate_arn if record.state == PROMOTED else record.stable_arn
        return Forward({serving: 1}, {"Enabled": False})
    return None
