"""Maintenance on the ALB: the listener's default action points at the maintenance page while a
rule keeps the health-check paths reaching the app; afterwards the exact previous action returns.

The previous default action is saved in the state table (pk="maintenance-listener") before
anything changes, so a crash mid-way is finished by calling `divert` or `restore` again, and a
second `divert` keeps the first saved action (it never saves the maintenance page as "previous").

>>> gate = ListenerMaintenance("autoheal-state", "web-alb", 443, page_url="https://status.example.com/maintenance.html")
>>> gate.divert("database upgrade")   # doctest: +SKIP
>>> gate.restore()                    # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import urlsplit

from chalicelib.aws.clients import region, table
from chalicelib.aws.elbv2 import Elbv2, ListenerError
from chalicelib.config.model import Config

PARTITION = "maintenance-listener"
FIXED_RESPONSE_LIMIT = 1024  # ALB's limit on a fixed response's body, in bytes
HEALTH_PATHS = ("/healthz", "/api/healthz")
MAX_PRIORITY = 50_000


def fixed_page(page_url: str, reason: str) -> str:
    """A 503 body that sends the browser to the full maintenance page (which polls and returns)."""
    url = html.escape(page_url, quote=True)
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f'<meta http-equiv="refresh" content="0;url={url}"><title>Maintenance</title>'
        f"<p>{html.escape(reason[:200])}</p>"
        f'<p><a href="{url}">Maintenance in progress: status and updates</a></p>'
        f"<script>location.replace({json.dumps(page_url)})</script></html>"
    )


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
        """Send users to the maintenance page; the health-check paths keep reaching the app."""
        listener = self.elb.find_listener(self.load_balancer, self.port)
        saved = self.saved(listener)
        if saved is None:
            previous = self.elb.default_actions(listener)
            if not any(a.get("Type") == "forward" for a in previous):
                raise ListenerError("the listener's default action is not a forward: nothing to divert from")
            saved = self.save(listener, previous, reason)
        if not saved.get("rule_arn"):
            rule_arn = self.existing_health_rule(listener) or self.elb.create_rule(
                listener,
                self.free_priority(listener),
                self.health_condition(),
                forward_only(saved["actions"]),
            )
            saved = self.save_rule(listener, rule_arn)
        action = self.maintenance_action(saved.get("reason") or reason)
        self.elb.set_default_actions(listener, [action])
        self.check(listener, [action])
        return {"diverted": True, "listener": listener, "previous": saved["actions"]}

    def diverted(self) -> bool:
        """Whether a divert is on record (and not yet restored): one Query, no ELB call, so it
        is cheap enough for every follow_up minute."""
        from boto3.dynamodb.conditions import Key

        found = table(self.table_name).query(
            KeyConditionExpression=Key("pk").eq(PARTITION), ConsistentRead=True, Limit=1
        )
        return bool(found.get("Items"))

    def restore(self) -> dict[str, Any]:
        """Put back the exact previous default action, drop the health rule, forget the save."""
        listener = self.elb.find_listener(self.load_balancer, self.port)
        saved = self.saved(listener)
        if saved is None:
            return {"diverted": False, "listener": listener}
        self.elb.set_default_actions(listener, saved["actions"])
        self.check(listener, saved["actions"])
        if saved.get("rule_arn"):
            self.elb.delete_rule(saved["rule_arn"])
        table(self.table_name).delete_item(Key={"pk": PARTITION, "sk": listener})
        return {"diverted": False, "listener": listener, "restored": saved["actions"]}

    # -- helpers --------------------------------------------------------------------------------
    def health_condition(self) -> list[dict[str, Any]]:
        return [{"Field": "path-pattern", "PathPatternConfig": {"Values": list(self.health_paths)}}]

    def existing_health_rule(self, listener: str) -> Optional[str]:
        """A rule left by a divert that stopped before recording it (never create a second)."""
        for rule in self.elb.rules(listener):
            if rule.get("Conditions") == self.health_condition():
                return rule["RuleArn"]
        return None

    def free_priority(self, listener: str) -> int:
        """The lowest free priority: evaluated before every other rule."""
        taken = {int(r["Priority"]) for r in self.elb.rules(listener)}
        return next(p for p in range(1, MAX_PRIORITY + 1) if p not in taken)

    def check(self, listener: str, wanted: list[Mapping[str, Any]]) -> None:
        actual = self.elb.default_actions(listener)
        if comparable(actual) != comparable(wanted):
            raise ListenerError(f"listener read back {actual!r}, expected {wanted!r}")

    def saved(self, listener: str) -> Optional[dict[str, Any]]:
        item = table(self.table_name).get_item(Key={"pk": PARTITION, "sk": listener}, ConsistentRead=True)
        if "Item" not in item:
            return None
        data = json.loads(item["Item"]["saved"])
        return data

    def save(self, listener: str, actions: list[dict[str, Any]], reason: str) -> dict[str, Any]:
        """Save once: a second divert (or a race) keeps the first saved action."""
        dynamodb = table(self.table_name)
        data = {"actions": actions, "reason": reason[:500], "rule_arn": None}
        try:
            dynamodb.put_item(
                Item={"pk": PARTITION, "sk": listener, "saved": json.dumps(data)},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except dynamodb.meta.client.exceptions.ConditionalCheckFailedException:
            return self.saved(listener) or data
        return data

    def save_rule(self, listener: str, rule_arn: str) -> dict[str, Any]:
        data = self.saved(listener) or {}
        data["rule_arn"] = rule_arn
        table(self.table_name).put_item(Item={"pk": PARTITION, "sk": listener, "saved": json.dumps(data)})
        return data


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


def listener_for(config: Config) -> ListenerMaintenance | NoListener:
    """The ALB side of maintenance as `maintenance.listener` configures it (NoListener without)."""
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
    )


def forward_only(actions: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The previous forward action, as a rule's action (without a default action's Order)."""
    forward = next(dict(a) for a in actions if a.get("Type") == "forward")
    forward.pop("Order", None)
    return [forward]


def comparable(actions: list[Mapping[str, Any]]) -> str:
    """Actions as ALB describes them: a forward to one group may come back with a ForwardConfig."""
    normal = []
    for action in actions:
        action = dict(action)
        if action.get("Type") == "forward" and "ForwardConfig" in action:
            config = dict(action["ForwardConfig"])
            groups = config.get("TargetGroups", [])
            if len(groups) == 1 and "TargetGroupArn" not in action:
                action["TargetGroupArn"] = groups[0]["TargetGroupArn"]
            sticky = config.get("TargetGroupStickinessConfig") or {"Enabled": False}
            config["TargetGroupStickinessConfig"] = sticky if sticky.get("Enabled") else {"Enabled": False}
            action["ForwardConfig"] = config
        normal.append(action)
    return json.dumps(normal, sort_keys=True)
