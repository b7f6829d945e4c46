"""status.json: the one document every page reads (no-store, so browsers always see the latest)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Mapping, Sequence

from chalicelib.aws.clients import client
from chalicelib.config.model import Monitor
from chalicelib.probe.result import ProbeResult
from chalicelib.state.thresholds import UP, MonitorState

KEY = "status.json"


def status_document(
    monitors: Sequence[Monitor],
    states: Mapping[str, MonitorState],
    results: Mapping[str, ProbeResult],
    now: float,
) -> dict:
    """Pure: what the status page shows. `healthy` is true only when every monitor is UP."""
    components = []
    for monitor in monitors:
        state = states.get(monitor.name, MonitorState())
        result = results.get(monitor.name)
        components.append(
            {
                "name": monitor.name,
                "component": monitor.component or monitor.name,
                "status": state.status,
                "since": iso(state.since) if state.since else None,
                "latency_ms": round(result.latency_ms) if result and result.latency_ms is not None else None,
                "reason": state.reason if state.status != UP else None,
            }
        )
    return {
        "updated_at": iso(now),
        "healthy": bool(components) and all(c["status"] == UP for c in components),
        "components": components,
    }


def publish_status(bucket: str, document: Mapping) -> None:
    client("s3").put_object(
        Bucket=bucket,
        Key=KEY,
        Body=json.dumps(document).encode(),
        ContentType="application/json",
        CacheControl="no-store",
    )


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
