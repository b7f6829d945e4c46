"""`diagnose`: what a restart would destroy, kept before acting (and `diagnose: true` on restart).

The stage's read-only diagnose document runs on the wave's instances, its whole output written
by each instance's agent to the private diagnostics bucket (`settings.diagnostics_bucket`, never
the public status bucket). autoheal waits for it at most its timeout (20 s, the document's own,
unless `timeout` is shorter) and never past the invocation's end, then goes on whatever
happened: a diagnosis that failed, hung or could not be sent is told in the story and never
holds back the action after it.

Sent once, as any command: the intent (a token in the Comment) is checkpointed before
SendCommand and the command id right after; the wait is measured from when it was sent (wall
clock), so a run resumed later waits no longer in total. What the story says points operators to
the S3 object; the status page's public lines never carry it (`statuspage.extras`).
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Mapping, Optional

from chalicelib.aws.errors import describe_error
from chalicelib.aws.ssm import TERMINAL, InvocationResult, OutputBucket, output_key
from chalicelib.config.fields import Section, shown
from chalicelib.config.kinds import Lookup
from chalicelib.config.model import Config
from chalicelib.runbooks.actions import UnsafeParameter, read_service, restart_parameters
from chalicelib.runbooks.steps import register
from chalicelib.runbooks.steps.base import NEXT, SEND_COMMAND, StepContext, StepKind
from chalicelib.runbooks.steps.command import last_line

TIMEOUT = 20.0  # the diagnose document's own timeoutSeconds: waiting longer finds nothing more
LINES = 200  # the service's last log lines kept (the document's default)
MAX_LINES = 9999  # the document's allowedPattern: ^[1-9][0-9]{0,3}$
STEP = "diagnose"  # the document's step name: part of the key its agent writes to
PREFIX = "diagnoses"
# The least SendCommand accepts: a diagnosis that starts later would see the state after the
# restart, which is worse than none.
DELIVERY_TIMEOUT = 30
PUBLIC_ACCESS_BLOCK = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def read_options(s: Section) -> dict[str, Any]:
    """`timeout` (at most the document's 20 s) and `lines` (1-9999), in the section `s`."""
    timeout = s.duration("timeout", TIMEOUT, maximum=TIMEOUT, why="the diagnose document stops at 20s")
    lines = s.integer("lines", LINES, minimum=1, maximum=MAX_LINES)
    return {"timeout": timeout, "lines": lines}


def read_option(s: Section, key: str = "diagnose") -> Optional[dict[str, Any]]:
    """`diagnose: true | false | {timeout, lines}` on another step; None when off."""
    value = s.raw(key, False)
    if value is False:
        return None
    if value is True:
        return {"timeout": TIMEOUT, "lines": LINES}
    if isinstance(value, Mapping):
        options = Section(value, s.key_path(key), s.errors)
        found = read_options(options)
        options.finish()
        return found
    s.error(f"expected true, false or {{timeout: 20s, lines: 200}}, got {shown(value)}", key)
    return None


def settings_problems(config: Config, where: str) -> list[str]:
    """A diagnosis needs a private bucket of its own: set, and not the public status bucket."""
    bucket = config.settings.diagnostics_bucket
    if bucket is None:
        return [
            f"{where}: a diagnosis needs settings.diagnostics_bucket, the stage's private bucket"
            " (write ${AUTOHEAL_DIAGNOSTICS_BUCKET})"
        ]
    if bucket == config.settings.status_bucket:
        return [f"settings.diagnostics_bucket: must not be the public status bucket ({bucket!r})"]
    return []


def live_lookups(config: Config) -> list[Lookup]:
    """`check --live`: the diagnose document exists, and so does the bucket, private."""
    from chalicelib.aws.clients import client

    document, bucket = config.settings.diagnose_document, config.settings.diagnostics_bucket
    found = [
        (
            f"settings.diagnose_document: document {document}",
            lambda: client("ssm").describe_document(Name=document),
        )
    ]
    if bucket is not None:
        found.append((f"settings.diagnostics_bucket: bucket {bucket}", lambda: private_bucket(bucket)))
    return found


def private_bucket(bucket: str) -> None:
    """Raises unless the bucket (its account and region filled in, as deployed) blocks all
    public access."""
    from chalicelib.aws.clients import client

    if "${AWS::" in bucket:
        sts = client("sts")
        account, region = sts.get_caller_identity()["Account"], sts.meta.region_name
        bucket = bucket.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
    found = client("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    if not all(found.get(key) for key in PUBLIC_ACCESS_BLOCK):
        off = ", ".join(key for key in PUBLIC_ACCESS_BLOCK if not found.get(key))
        raise PermissionError(f"{bucket} is not private: Block Public Access has {off} off")


def key_prefix(incident_key: str) -> str:
    """Where an incident's diagnoses go in the bucket (SSM adds the command and instance ids).

    >>> key_prefix("restart-web/i-0abc")
    'diagnoses/restart-web-i-0abc'
    """
    return f"{PREFIX}/{re.sub(r'[^A-Za-z0-9._-]+', '-', incident_key).strip('-')[:200]}"


def diagnose_first(
    ctx: StepContext, targets: list[str], parameters: Mapping[str, list[str]], options: Mapping[str, Any]
) -> str:
    """Diagnose `targets`, once, then NEXT: the action goes on in this same invocation, after at
    most what is left of the timeout (or of the invocation, when that ends first)."""
    data: dict[str, Any] = ctx.incident.run.step_data.setdefault("diagnosis", {})
    if data.get("done"):
        return NEXT
    if "command_id" not in data and not send_once(ctx, targets, data, parameters, options):
        return finish(ctx, data)
    settings = ctx.engine.config.settings
    left = max(0.0, data["sent_at"] + float(options["timeout"]) - ctx.now)
    started = ctx.engine.clock.monotonic()
    try:
        results = ctx.engine.actions.wait(data["command_id"], targets, min(ctx.deadline, started + left))
    except Exception as exc:  # noqa: BLE001 - a diagnosis never holds the action back
        said = f"its result could not be read ({describe_error(exc)})"
        return finish(ctx, data, f"diagnosis {data['command_id']}: {said}")
    # Cut short by the invocation's end rather than by the timeout: the action does not wait for
    # the next invocation, which may be a minute away.
    limit = "this invocation's end" if ctx.deadline < started + left else f"{float(options['timeout']):g}s"
    output = OutputBucket(str(settings.diagnostics_bucket), data["prefix"])
    return finish(ctx, data, outcome_line(results, data["command_id"], output, limit))


def send_once(
    ctx: StepContext,
    targets: list[str],
    data: dict[str, Any],
    parameters: Mapping[str, list[str]],
    options: Mapping[str, Any],
) -> bool:
    """Send the diagnosis (or find the one a dead invocation sent); False: there is none to wait for."""
    engine, incident = ctx.engine, ctx.incident
    if "token" in data:  # the last invocation died between intent and checkpoint
        found = engine.actions.find_command(data["token"], data["sent_after"])
        if found is None:
            data["line"] = "diagnosis not kept: autoheal stopped while sending it"
            return False
        data["command_id"] = found
        ctx.checkpoint(incident)
        return True
    settings = engine.config.settings
    document, bucket = settings.diagnose_document, settings.diagnostics_bucket
    if bucket is None or bucket == settings.status_bucket:  # refused at config load; never public
        data["line"] = "diagnosis not kept: settings.diagnostics_bucket names no private bucket"
        return False
    # The timeout counts from the intent: a run that finds its command again waits no longer.
    now = ctx.now
    data.update(token=uuid.uuid4().hex[:16], sent_after=now - 5, sent_at=now, prefix=key_prefix(incident.key))
    ctx.checkpoint(incident)
    wanted = {**parameters, "lines": [str(options["lines"])]}
    try:
        data["command_id"] = engine.actions.send(
            document,
            targets,
            wanted,
            f"autoheal {data['token']} {incident.key}",
            len(targets),
            output=OutputBucket(bucket, data["prefix"]),
            delivery_timeout=DELIVERY_TIMEOUT,
        )
    except Exception as exc:  # noqa: BLE001 - a diagnosis never holds the action back
        data["line"] = f"diagnosis not kept: {document} could not be sent ({describe_error(exc)})"
        return False
    incident.tell(ctx.now, f"diagnosis sent to {', '.join(targets)} (command {data['command_id']})")
    ctx.checkpoint(incident)  # at once: a resumed run waits for this one, never sends another
    return True


def outcome_line(results: list[InvocationResult], command_id: str, output: OutputBucket, limit: str) -> str:
    """One line for people: where each instance's diagnosis is kept, or why it is not."""
    parts = []
    for r in results:
        where = f"s3://{output.bucket}/{output_key(output, command_id, r.instance_id, STEP)}"
        if r.status == "Success":
            parts.append(f"{r.instance_id} kept at {where}")
        elif r.status not in TERMINAL:
            parts.append(f"{r.instance_id} not finished within {limit} ({r.status}); if it ends: {where}")
        else:
            said = f": {last_line(r.output)}" if r.output.strip() else ""
            parts.append(f"{r.instance_id} failed ({r.status}{said}); any output: {where}")
    return f"diagnosis {command_id}: " + "; ".join(parts)


def finish(ctx: StepContext, data: dict[str, Any], line: Optional[str] = None) -> str:
    """Tell what the diagnosis came to (story and notification), once, and let the action go on."""
    data["done"] = True
    ctx.engine.notifier.send(ctx.incident, "action", line or data.get("line", "diagnosis not kept"))
    ctx.checkpoint(ctx.incident)
    return NEXT


@register
class Diagnose(StepKind):
    """A diagnosis on its own, e.g. before a `run` or a `reboot` (restart has `diagnose: true`):
    of every target of the run at once, since it changes nothing."""

    kind = "diagnose"
    grants = SEND_COMMAND  # SendCommand on the stage's documents and tagged instances, as restart

    @classmethod
    def read(cls, s: Section) -> dict[str, Any]:
        return {**read_service(s), **read_options(s)}

    @classmethod
    def cross_check(cls, params: Mapping[str, Any], config: Config, where: str) -> list[str]:
        return settings_problems(config, where)

    @classmethod
    def lookups(cls, params: Mapping[str, Any], config: Config, where: str) -> list[Lookup]:
        return live_lookups(config)

    def execute(self, ctx: StepContext, params: Mapping[str, Any]) -> str:
        try:
            parameters = restart_parameters(params.get("service"), params.get("manager"), params.get("user"))
        except UnsafeParameter as exc:  # refused at load; a diagnosis never stops the run
            ctx.incident.tell(ctx.now, f"diagnosis not sent: {exc}")
            return NEXT
        # Read-only, so every target of the run at once (a restart's own diagnosis is per wave).
        return diagnose_first(ctx, list(ctx.incident.run.targets), parameters, params)
