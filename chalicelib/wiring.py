"""What each Lambda builds once per cold start: the validated config and the long-lived objects.

`AUTOHEAL_CONFIG` names the stage's YAML, relative to the deployed app (Chalice ships only
app.py, chalicelib/ and vendor/, so configs live in chalicelib/configs/). Imports of heavier
modules are deferred to the function that needs them, to keep every cold start short.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional

from aws_lambda_powertools import Logger

import chalicelib.plugins  # noqa: F401 - the built-in kinds, registered before any config loads
from chalicelib.config import Config, load_config
from chalicelib.logs import CurrentStdoutHandler, json_line

APP_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = "chalicelib/configs/example.yaml"
IDEMPOTENCY_SECONDS = 24 * 3600  # SNS redelivers for hours at most
LOCAL_WAITS = "AUTOHEAL_LOCAL_WAITS"
LOCAL_PAUSE = 0.1  # the longest pause between polls in the local world's tests
# The parent of every module's `Logger(service="autoheal", child=True)`: JSON lines, one per event.
logger = Logger(service="autoheal", logger_handler=CurrentStdoutHandler(), json_serializer=json_line)
# A handler that fails must not print the exception being handled: it may hold a secret URL.
logging.raiseExceptions = False


def config_path() -> Path:
    path = Path(os.environ.get("AUTOHEAL_CONFIG", DEFAULT_CONFIG))
    return path if path.is_absolute() else APP_ROOT / path


@functools.lru_cache(maxsize=1)
def config() -> Config:
    """The config, loaded and validated once; a bad file fails the cold start with every error."""
    return load_config(str(config_path()))


@functools.lru_cache(maxsize=1)
def counts_errors(function: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Count the handler's failures as `HandlerErrors{Function}`, then raise as before.

    >>> @counts_errors("probe")
    ... def probe(event): ...
    """

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            except Exception:
                from chalicelib.metrics import emit_handler_error

                emit_handler_error(metrics_namespace(), function)
                raise

        return counted

    return decorate


def metrics_namespace() -> str:
    """The config's namespace; the stage's when the config itself is what failed."""
    try:
        return config().settings.metrics_namespace
    except Exception:  # noqa: BLE001 - a broken config must still be counted
        return os.environ.get("AUTOHEAL_METRICS_NAMESPACE", "Autoheal")


def local_waits() -> bool:
    """Production pauses as the world needs (2 s between verify probes, command polls growing
    to 1 s); the local world's tests set AUTOHEAL_LOCAL_WAITS, and every pause that waits on a
    condition is then at most LOCAL_PAUSE: the same conditions, met sooner."""
    return bool(os.environ.get(LOCAL_WAITS))


def engine_clock():  # -> runbooks.engine.Clock
    from chalicelib.runbooks.engine import Clock

    if local_waits():
        return Clock(sleep=lambda seconds: time.sleep(min(seconds, LOCAL_PAUSE)))
    return Clock()


def command_polls():  # -> aws.ssm.Backoff
    from chalicelib.aws.ssm import Backoff

    return Backoff(first=0.02, most=LOCAL_PAUSE) if local_waits() else Backoff()


def table_name() -> str:
    return config().settings.state_table


@functools.lru_cache(maxsize=1)
def probe_engine():  # -> ProbeEngine
    from chalicelib.probe.engine import ProbeEngine

    return ProbeEngine(workers=config().settings.probe_workers)


@functools.lru_cache(maxsize=1)
def notifier():  # -> FanOut
    from chalicelib.notify.channels import fan_out

    return fan_out(config().settings, hourly_counts())


# -- stores: one table, one adapter per partition ----------------------------------------------
def state_store():  # -> StateStore
    from chalicelib.state.store import StateStore

    return StateStore(table_name())


def incident_store():  # -> IncidentStore
    from chalicelib.runbooks.incident_store import IncidentStore

    return IncidentStore(table_name())


def deployment_store():  # -> DeploymentStore
    from chalicelib.deployments.store import DeploymentStore

    return DeploymentStore(table_name())


def hourly_counts():  # -> HourlyCounts (the channels' hourly limits)
    from chalicelib.notify.rate_limit import HourlyCounts

    return HourlyCounts(table_name())


def maintenance_store():  # -> MaintenanceStore
    from chalicelib.maintenance.store import MaintenanceStore

    return MaintenanceStore(table_name())


def alarm_ledger():  # -> AlarmLedger
    from chalicelib.alarms.ledger import AlarmLedger

    return AlarmLedger(table_name())


def under_maintenance(tolerant: bool = False):  # -> MaintenanceQuestion
    """The one "is this under maintenance?" the probe and on_alarm both ask; `tolerant` (the
    probe) counts an unreadable switch as off instead of failing. The probe answers each cycle
    from one read of the switch (`MaintenanceQuestion.reading`)."""
    from chalicelib.maintenance.silence import MaintenanceQuestion, or_none

    read = maintenance_store().current
    return MaintenanceQuestion(config(), or_none(read) if tolerant else read)


# -- the status site: one per container, its accumulator lives across warm invocations ---------
@functools.lru_cache(maxsize=1)
def status_site():  # -> StatusSite
    from chalicelib.maintenance.store import MaintenanceStore
    from chalicelib.statuspage.extras import site_extras
    from chalicelib.statuspage.history_store import HistoryStore
    from chalicelib.statuspage.publish import SitePublisher
    from chalicelib.statuspage.site import StatusSite
    from chalicelib.vantage.notes import vantage_notes

    settings = config().settings
    return StatusSite(
        config(),
        history_store=HistoryStore(settings.state_table),
        publisher=SitePublisher(settings.status_bucket),
        maintenance_store=MaintenanceStore(settings.state_table),
        extras=site_extras(config(), incident_store(), deployment_store(), vantage_notes(config())),
        gate=publish_gate(),
    )


def publish_gate():  # -> PublishGate
    from chalicelib.statuspage.publish_gate import PublishGate

    return PublishGate(table_name())


def site_republisher() -> Callable[[float], None]:
    """Publishes the site's objects from the stored monitor states (no probe run needed)."""

    def republish(now: float) -> None:
        status_site().publish(state_store().load(), {}, now)

    return republish


# -- maintenance ---------------------------------------------------------------------------------
def maintenance_listener():  # -> ListenerMaintenance | NoListener
    """The ALB side of maintenance, through the listener's one owner; a change found made by hand
    on the listener is told to people, as in `advance`."""
    from chalicelib.aws.elbv2 import Elbv2
    from chalicelib.listeners.owner import ListenerOwner
    from chalicelib.maintenance.listener import listener_for

    owner = ListenerOwner(table_name(), Elbv2(), notify=notifier().send)
    return listener_for(config(), owner, deployment_store().get)


def maintenance_function(clock: Callable[[], float] = time.time):  # -> MaintenanceFunction
    from chalicelib.aws.topics import publish_json
    from chalicelib.maintenance.service import DeferredListener, MaintenanceFunction, still_down_announcer

    states: Callable[[], Any] = state_store().load
    if (points := config().settings.vantage) is not None:  # the quorum's word, not this region's own view
        from chalicelib.vantage.build import this_region
        from chalicelib.vantage.votes import VoteStore

        # Only the home region raises: its alarms topic is where the quorum's changes go.
        home = this_region(points.home) == points.home
        states = VoteStore(table_name(), points.home).acted_all if home else lambda: {}
    announce = still_down_announcer(
        config(),
        states,
        alarm_ledger().states,
        lambda topic, message, subject: publish_json(topic, message, subject=subject),
    )
    return MaintenanceFunction(
        config(),
        maintenance_store(),
        DeferredListener(maintenance_listener),
        site_republisher(),
        clock,
        announce=announce,
    )


# -- deployments ---------------------------------------------------------------------------------
def build_shifter(cfg: Optional[Config] = None, notify: Any = None, elb: Any = None):  # -> Shifter
    """A Shifter over the real adapters; `notify` defaults to every configured channel."""
    from chalicelib.aws import cloudwatch
    from chalicelib.aws.elbv2 import Elbv2
    from chalicelib.deployments.gates import GateChecker
    from chalicelib.deployments.hooks import probe_failures, run_document
    from chalicelib.deployments.shifter import Shifter, ShiftHooks
    from chalicelib.leases import Leases
    from chalicelib.state.store import StateStore

    cfg = cfg or config()
    elb = elb or Elbv2()
    table = cfg.settings.state_table
    gates = GateChecker(elb, StateStore(table).load, cloudwatch.alarms_in_alarm, cloudwatch.group_traffic)
    hooks = ShiftHooks(
        probe=lambda names: probe_failures(cfg, probe_engine().run, names),
        run=lambda doc, parameters, arn: run_document(elb, doc, parameters, arn),
    )
    return Shifter(
        table,
        elb,
        gates,
        notify or notifier().send,
        time.time,
        hooks,
        store=deployment_store(),
        leases=Leases(table),
    )


def rollback():  # -> deployments.signals.Rollback
    """What a gate signal rolls back from on_alarm; the shifter is built only when one gates a shift."""
    from chalicelib.deployments.signals import rollback_for_signal

    def roll_back(signal: str, state: str, since: Optional[float]) -> list[dict]:
        return rollback_for_signal(build_shifter(), config().deployments, signal, state, since)

    return roll_back


# -- runbooks and incidents ----------------------------------------------------------------------
def runbook_engine(gather: Optional[Callable[..., Any]] = None):  # -> RunbookEngine
    from chalicelib.leases import Leases
    from chalicelib.maintenance.runbook import RunbookMaintenance
    from chalicelib.runbooks.actions import AwsActions
    from chalicelib.runbooks.budget import BudgetStore
    from chalicelib.runbooks.engine import RunbookEngine

    clock = engine_clock()
    switch = functools.lru_cache(maxsize=1)(
        lambda: RunbookMaintenance(config(), maintenance_function(clock=clock.now), clock.now)
    )
    return RunbookEngine(
        config(),
        AwsActions(command_polls()),
        probe_engine().run,
        BudgetStore(table_name()),
        Leases(table_name()),
        notifier().send,
        clock,
        gather=gather,
        maintenance=switch,
        shifter=lambda notify: build_shifter(notify=notify),
    )


def incident_desk(kind: type, **extra: Any) -> Any:
    """An incident service (AlarmHandler, FollowUp) over the state table's stores; the engine's
    notifier and the service share one inbox fold."""
    from chalicelib.runbooks.inbox import InboxFold, SignalInbox

    fold = InboxFold(SignalInbox(table_name()))
    return kind(
        config(),
        site_refresher().watch(incident_store()),
        runbook_engine(gather=fold.absorb),
        ledger=alarm_ledger(),
        inbox=fold.inbox,
        fold=fold,
        monitor_status=state_store().status,
        maintenance=under_maintenance(),
        **extra,
    )


@functools.lru_cache(maxsize=1)
def idempotent_alarm_handler():
    """handle(request) that acts once per alarm state change (Powertools Idempotency)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    from chalicelib.incidents.alarm import AlarmHandler, AlarmRequest

    persistence = DynamoDBPersistenceLayer(
        table_name=table_name(), key_attr="pk", sort_key_attr="sk", static_pk_value="idempotency"
    )
    settings = IdempotencyConfig(
        # One state change of one alarm acts once, however it arrives: SNS redelivers it under
        # the same MessageId, and the probe republishes a transition whose publish it could not
        # record (it died after SNS took it) under a new one. A new state change has a new
        # StateChangeTime. (A failed invocation removes its record, so Lambda's retry still acts.)
        event_key_jmespath="[alarm.name, alarm.state, alarm.changed_at]",
        expires_after_seconds=IDEMPOTENCY_SECONDS,
        raise_on_no_idempotency_key=True,
    )

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=settings)
    def handle(request: AlarmRequest) -> dict:
        return incident_desk(AlarmHandler).handle(request.alarm, request.runbook, request.deadline)

    return handle, settings


def alarm_intake(context: Any = None):  # -> AlarmIntake
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    from chalicelib.incidents.alarm import AlarmIntake, AlarmRequest

    handle, settings = idempotent_alarm_handler()
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        settings.register_lambda_context(context)

    def once(request: AlarmRequest) -> dict:
        try:
            return handle(request=request)
        except IdempotencyAlreadyInProgressError:
            return {"incident": request.alarm.name, "action": "none: the same message is being handled"}

    return AlarmIntake(config(), once, alarm_ledger(), rollback())


def site_refresher():  # -> SiteRefresher
    """Republishes the site on every public change of an incident, from what is stored (a fresh
    site: its history as stored, no badges), and tells the component's subscribers."""
    from chalicelib.statuspage.extras import site_extras
    from chalicelib.statuspage.refresh import SiteRefresher, announce
    from chalicelib.statuspage.site import StatusSite
    from chalicelib.vantage.notes import vantage_notes

    def publish(now: float) -> dict:
        site = StatusSite(
            config(),
            extras=site_extras(config(), incident_store(), deployment_store(), vantage_notes(config())),
            badges=False,
        )
        return site.publish(state_store().load(), {}, now)

    return SiteRefresher(publish, publish_gate(), announce=functools.partial(announce, config()))


def follow_up():  # -> FollowUp
    from chalicelib.incidents.follow_up import FollowUp
    from chalicelib.maintenance.service import follow_maintenance

    return incident_desk(
        FollowUp,
        digest=daily_digest(),
        maintenance_minute=lambda now: follow_maintenance(maintenance_function(), now),
    )


def daily_digest() -> Optional[Callable[[], dict]]:
    """The daily digest's minute, when the config has one."""
    from chalicelib.incidents.digest import DailyDigest

    settings = config().settings
    if settings.digest is None:
        return None
    return DailyDigest(settings, incident_store(), notifier().send, hourly_counts().folded).send_due


# -- the other functions -------------------------------------------------------------------------
def shift_traffic():  # -> ShiftTraffic
    from chalicelib.deployments.shift_traffic import ShiftTraffic

    return ShiftTraffic(config(), build_shifter())


def advance():  # -> Advance
    from chalicelib.deployments.advance import Advance

    return Advance(config(), build_shifter())


def subscriptions():  # -> Subscriptions (POST /subscribe)
    from chalicelib.aws import clients
    from chalicelib.subscriptions.service import Subscriptions

    settings = config().settings
    components = sorted({m.component or m.name for m in config().monitors})  # as the page lists them
    return Subscriptions(clients.topic_arn(settings.notify_topic), settings.state_table, components)


def probe_run():  # -> ProbeRun; above the fan-out threshold, the scheduler of shard messages
    from chalicelib.fanout.plan import plan_shards
    from chalicelib.monitoring.probe_run import ProbeRun

    plan = plan_shards(m.name for m in config().monitors)
    if plan.fanned_out:
        from chalicelib.fanout.scheduler import FanOutRun, ShardQueue
        from chalicelib.fanout.setup import queue_name, queue_url
        from chalicelib.vantage.build import writes_public_site

        queue = ShardQueue(queue_url(queue_name(config())))
        site = status_site() if writes_public_site(config()) else None
        return FanOutRun(config(), queue, plan=plan, store=state_store(), site=site)
    from chalicelib.vantage.build import build_gate

    gate = build_gate(config(), probe_engine().run)
    maintenance = under_maintenance(tolerant=True)
    return ProbeRun(config(), probe_engine(), state_store(), status_site(), maintenance, vantage=gate)


PROBE_WORKERS = 50  # the shard queue's MaximumConcurrency: 50 shards of 400 monitors probed at once


def probe_queue() -> str:
    from chalicelib.fanout.setup import queue_name

    return queue_name(config())


@functools.lru_cache(maxsize=1)
def shard_engine():  # -> ProbeEngine: every monitor of a full shard in flight at once
    from chalicelib.fanout.plan import SHARD_CAPACITY
    from chalicelib.probe.engine import ProbeEngine

    return ProbeEngine(workers=SHARD_CAPACITY)


def probe_worker():  # -> ShardWorker
    from chalicelib.fanout.worker import ShardWorker
    from chalicelib.vantage.build import build_gate

    gate = build_gate(config(), shard_engine().run)  # a shard's changes are votes, as the probe's
    return ShardWorker(
        config(), shard_engine(), under_maintenance=under_maintenance(tolerant=True), vantage=gate
    )


def confirmation(event: dict):  # -> Optional[vantage.confirm.Request]
    from chalicelib.vantage.confirm import request_of

    return request_of(event)


def vantage_confirm(request, deadline: float) -> dict:
    """Another vantage point asks this region's probe to check some monitors now and vote."""
    from chalicelib.fanout.plan import plan_shards
    from chalicelib.vantage.build import build_gate, maintenance_hold

    # Built directly, not through probe_run(): a fanned-out probe is a scheduler with no gate.
    fanned_out = plan_shards(m.name for m in config().monitors).fanned_out
    gate = build_gate(config(), (shard_engine() if fanned_out else probe_engine()).run)
    if gate is None:
        return {"errors": ["vantage: asked to confirm, but settings.vantage_points is not set"]}
    return gate.confirm(request, maintenance_hold(under_maintenance(tolerant=True)), deadline)


def reset() -> None:
    """Forget what was built (tests switch configs and endpoints)."""
    from chalicelib.aws import clients
    from chalicelib.vantage import regional

    for cached in (config, probe_engine, notifier, status_site, idempotent_alarm_handler):
        cached.cache_clear()
    clients.reset()
    regional.reset()
