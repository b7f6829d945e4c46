"""What the status site shows of fanned-out monitors: only what a shard reported in time.

The scheduler publishes the site once a minute from the shard summaries. A monitor counts as
reported when a summary of the previous minute's last cycle (or a later one) holds its result;
any other monitor, a hung shard's, a lost message's, a crashed worker's, is shown UNKNOWN
whatever its stored state says, never UP.

>>> shown = site_states(config.monitors, states, reported)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from chalicelib.config.model import Monitor
from chalicelib.fanout.summaries import Summary
from chalicelib.probe.result import ProbeResult
from chalicelib.state.thresholds import UNKNOWN, MonitorState


def reported(summaries: Iterable[Summary], tick: float, cycle: int) -> dict[str, ProbeResult]:
    """The results of every summary of cycle (tick, cycle) or later, by monitor."""
    found: dict[str, ProbeResult] = {}
    for summary in summaries:
        if summary.after(tick, cycle):
            found.update(summary.results)
    return found


def site_states(
    monitors: Sequence[Monitor], states: Mapping[str, MonitorState], results: Mapping[str, ProbeResult]
) -> dict[str, MonitorState]:
    """The stored states of reported monitors; UNKNOWN for every other one."""
    shown: dict[str, MonitorState] = {}
    for monitor in monitors:
        result = results.get(monitor.name)
        if result is None or result.skipped:
            shown[monitor.name] = MonitorState(status=UNKNOWN, reason="no report from its shard in time")
        else:
            shown[monitor.name] = states.get(monitor.name, MonitorState())
    return shown
