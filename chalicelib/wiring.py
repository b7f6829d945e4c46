"""What each Lambda builds once per cold start: the validated config and the long-lived objects.

`AUTOHEAL_CONFIG` names the stage's YAML, relative to the deployed app (Chalice ships only
app.py, chalicelib/ and vendor/, so configs live in chalicelib/configs/). Imports of heavier
modules are deferred to the function that needs them, to keep every cold start short.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any, Callable, Optional

from aws_lambda_powertools import Logger

import chalicelib.plugins  # noqa: F401 - the built-in kinds, registered before any config loads
from chalicelib.config import Config, load_config
from chalicelib.logs import CurrentStdoutHandler, json_line

APP_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = "chalicelib/configs/example.yaml"
IDEMPOTENCY_SECONDS = 24 * 3600  # SNS redelivers for hours at most
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


@functools.lru_cache(maxsize=1)
def probe_engine():  # -> ProbeEngine
    from chalicelib.probe.engine import ProbeEngine

    return ProbeEngine(workers=config().settings.probe_workers)


@functools.lru_cache(maxsize=1)
def notifier():  # -> FanOut
    from chalicelib.notify.channels import fan_out

    return fan_out(config().settings)


def runbook_engine():  # -> RunbookEngine
    from chalicelib.leases import Leases
    from chalicelib.runbooks.actions import AwsActions
    from chalicelib.runbooks.budget import BudgetStore
    from chalicelib.runbooks.engine import RunbookEngine

    table = config().settings.state_table
    return RunbookEngine(
        config(), AwsActions(), probe_engine().run, BudgetStore(table), Leases(table), notifier().send
    )


@functools.lru_cache(maxsize=1)
def idempotent_alarm_processor():
    """process(alarm, runbook) that acts once per alarm state change (Powertools Idempotency)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    from chalicelib.alarms.model import AlarmEvent
    from chalicelib.handlers.on_alarm import AlarmHandler

    table = config().settings.state_table
    persistence = DynamoDBPersistenceLayer(
        table_name=table, key_attr="pk", sort_key_attr="sk", static_pk_value="idempotency"
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
    def process(request: dict) -> dict:
        alarm = AlarmEvent(**request["alarm"])
        return incident_desk(AlarmHandler).handle(alarm, request["runbook"], request["deadline"])

    return process, settings


def process_alarm(alarm, runbook: Optional[str], deadline: float, context: Any = None) -> dict:
    from dataclasses import asdict

    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    process, settings = idempotent_alarm_processor()
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        settings.register_lambda_context(context)
    # The deadline is not part of the key (see event_key_jmespath).
    request = {"alarm": asdict(alarm), "runbook": runbook, "deadline": deadline}
    try:
        return process(request=request)
    except IdempotencyAlreadyInProgressError:
        return {"incident": alarm.name, "action": "none: the same message is being handled"}


def incident_desk(kind: type) -> Any:
    """An incident handler (AlarmHandler, FollowUp) with the stores of the state table."""
    from chalicelib.alarms.ledger import AlarmLedger
    from chalicelib.maintenance.silence import under_maintenance
    from chalicelib.runbooks.inbox import SignalInbox
    from chalicelib.runbooks.incident_store import IncidentStore
    from chalicelib.state.store import StateStore

    table = config().settings.state_table
    return kind(
        config(),
        IncidentStore(table),
        runbook_engine(),
        ledger=AlarmLedger(table),
        inbox=SignalInbox(table),
        monitor_status=StateStore(table).status,
        maintenance=functools.partial(under_maintenance, config()),
    )


def follow_up():  # -> FollowUp
    from chalicelib.handlers.digest import DailyDigest
    from chalicelib.handlers.follow_up import FollowUp
    from chalicelib.notify.rate_limit import HourlyCounts

    desk = incident_desk(FollowUp)
    settings = config().settings
    if settings.digest is not None:
        counts = HourlyCounts(settings.state_table)
        desk.digest = DailyDigest(settings, desk.incidents, notifier().send, counts.folded).send_due
    return desk


def maintenance_function():  # -> MaintenanceFunction
    from chalicelib.handlers.maintenance import MaintenanceFunction

    return MaintenanceFunction.for_config(config())


def shift_traffic():  # -> ShiftTraffic
    from chalicelib.deployments.factory import build_shifter
    from chalicelib.handlers.shift_traffic import ShiftTraffic

    return ShiftTraffic(config(), build_shifter(config()))


def advance():  # -> Advance
    from chalicelib.deployments.factory import build_shifter
    from chalicelib.handlers.advance import Advance

    return Advance(config(), build_shifter(config()))


def probe_run():  # -> ProbeRun
    from chalicelib.handlers.probe import ProbeRun
    from chalicelib.vantage.build import build_gate

    return ProbeRun(config(), probe_engine(), vantage=build_gate(config(), probe_engine().run))


def confirmation(event: dict):  # -> Optional[vantage.confirm.Request]
    from chalicelib.vantage.confirm import request_of

    return request_of(event)


def vantage_confirm(request, deadline: float) -> dict:
    """Another vantage point asks this region's probe to check some monitors now and vote."""
    run = probe_run()
    if run.vantage is None:
        return {"errors": ["vantage: asked to confirm, but settings.vantage_points is not set"]}
    return run.vantage.confirm(request, run.held_back, deadline)


def reset() -> None:
    """Forget what was built (tests switch configs and endpoints)."""
    from chalicelib.aws import clients
    from chalicelib.vantage import regional

    for cached in (config, probe_engine, notifier, idempotent_alarm_processor):
        cached.cache_clear()
    clients.reset()
    regional.reset()
