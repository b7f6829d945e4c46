"""What a shift runs around it: the smoke test on the test listener and the after-promote document."""

from __future__ import annotations

import time
from typing import Callable, Mapping, Sequence

from chalicelib.aws.elbv2 import Elbv2
from chalicelib.config.model import Config, Monitor

HOOK_PROBE_SECONDS = 20.0

Probe = Callable[[Sequence[Monitor], float], list]  # (monitors, monotonic deadline) -> ProbeResults


def probe_failures(config: Config, probe: Probe, names: Sequence[str]) -> list[str]:
    """Probe the named monitors now (the smoke test on the test listener); their failures."""
    monitors = [m for m in (config.monitor(n) for n in names) if m is not None]
    results = probe(monitors, time.monotonic() + HOOK_PROBE_SECONDS)
    return [f"{r.monitor}: {r.reason}" for r in results if not r.ok]


def run_document(elb: Elbv2, document: str, parameters: Mapping[str, Sequence[str]], group_arn: str) -> str:
    """Send a fixed SSM document to the promoted group's registered instances; its command id."""
    from chalicelib.aws import ssm

    instances = sorted(t for t in elb.target_health(group_arn) if t.startswith(("i-", "mi-")))
    if not instances:
        raise RuntimeError("no registered instances to run it on")
    return ssm.send_command(document, instances, parameters, comment="autoheal after_promote")
