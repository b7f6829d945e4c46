"""Build a Shifter over the real adapters (the functions' one place for it)."""

from __future__ import annotations

import time
from typing import Mapping, Optional, Sequence

from chalicelib.aws import cloudwatch
from chalicelib.aws.elbv2 import Elbv2
from chalicelib.config.model import Config
from chalicelib.deployments.gates import GateChecker
from chalicelib.deployments.shifter import Hooks, Shifter
from chalicelib.state.store import StateStore

HOOK_PROBE_SECONDS = 20.0


def build_shifter(config: Config, notify=None, elb: Optional[Elbv2] = None) -> Shifter:
    from chalicelib import wiring

    elb = elb or Elbv2()
    table = config.settings.state_table
    gates = GateChecker(elb, StateStore(table).load, cloudwatch.alarms_in_alarm, cloudwatch.group_traffic)
    send = notify or wiring.notifier().send
    hooks = Hooks(
        probe=lambda names: probe_failures(config, names),
        run=lambda doc, parameters, arn: run_document(elb, doc, parameters, arn),
    )
    return Shifter(table, elb, gates, send, time.time, hooks)


def probe_failures(config: Config, names: Sequence[str]) -> list[str]:
    """Probe the named monitors now (the smoke test on the test listener); their failures."""
    from chalicelib import wiring

    monitors = [m for m in (config.monitor(n) for n in names) if m is not None]
    results = wiring.probe_engine().run(monitors, time.monotonic() + HOOK_PROBE_SECONDS)
    return [f"{r.monitor}: {r.reason}" for r in results if not r.ok]


def run_document(elb: Elbv2, document: str, parameters: Mapping[str, Sequence[str]], group_arn: str) -> str:
    """Send a fixed SSM document to the promoted group's registered instances; its command id."""
    from chalicelib.aws import ssm

    instances = sorted(t for t in elb.target_health(group_arn) if t.startswith(("i-", "mi-")))
    if not instances:
        raise RuntimeError("no registered instances to run it on")
    return ssm.send_command(document, instances, parameters, comment="autoheal after_promote")
