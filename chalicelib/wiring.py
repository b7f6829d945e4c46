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
from typing import Any, Optional

from aws_lambda_powertools import Logger

from chalicelib.config import Config, load_config
from chalicelib.logs import CurrentStdoutHandler

APP_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = "chalicelib/configs/example.yaml"
IDEMPOTENCY_SECONDS = 24 * 3600  # SNS redelivers for hours at most
# The parent of every module's `Logger(service="autoheal", child=True)`: JSON lines, one per event.
logger = Logger(service="autoheal", logger_handler=CurrentStdoutHandler())
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
def probe_engine():  # -> ProbeEngine
    from chalicelib.probe.engine import ProbeEngine

    return ProbeEngine(workers=config().settings.probe_workers)


@functools.lru_cache(maxsize=1)
def notifier():  # -> FanOut
    from chalicelib.aws.clients import topic_arn
    from chalicelib.notify.providers import FanOut
    from chalicelib.notify.sns import SnsNotifier
    from chalicelib.notify.webhook import WebhookNotifier

    settings = config().settings
    notifiers: list[Any] = [SnsNotifier(topic_arn(settings.notify_topic))]
    if settings.chat_webhook_parameter:
        notifiers.append(WebhookNotifier(settings.chat_webhook_parameter))
    return FanOut(notifiers)


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
    """process(alarm, runbook) that acts once per SNS MessageId (Powertools Idempotency)."""
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
        # SNS redelivers a message with its MessageId and body unchanged; keying on both means a
        # sender that reuses ids (test generators do) never has a different alarm taken for a copy.
        event_key_jmespath="[alarm.message_id, alarm.name, alarm.state, alarm.changed_at]",
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
    # The deadline is not part of the key: the key is the message id alone.
    request = {"alarm": asdict(alarm), "runbook": runbook, "deadline": deadline}
    try:
        return process(request=request)
    except IdempotencyAlreadyInProgressError:
        return {"incident": alarm.name, "action": "none: the same message is being handled"}


def incident_desk(kind: type) -> Any:
    """An incident handler (AlarmHandler, FollowUp) with the stores of the state table."""
    from chalicelib.alarms.ledger import AlarmLedger
    from chalicelib.runbooks.inbox import SignalInbox
    from chalicelib.runbooks.incident_store import IncidentStore

    table = config().settings.state_table
    from chalicelib.state.store import StateStore

    return kind(
        config(),
        IncidentStore(table),
        runbook_engine(),
        ledger=AlarmLedger(table),
        inbox=SignalInbox(table),
        monitor_status=StateStore(table).status,
    )


def follow_up():  # -> FollowUp
    from chalicelib.handlers.follow_up import FollowUp

    return incident_desk(FollowUp)


def probe_run():  # -> ProbeRun
    from chalicelib.handlers.probe import ProbeRun

    return ProbeRun(config(), probe_engine())


def reset() -> None:
    """Forget what was built (tests switch configs and endpoints)."""
    from chalicelib.aws import clients

    for cached in (config, probe_engine, notifier, idempotent_alarm_processor):
        cached.cache_clear()
    clients.reset()
