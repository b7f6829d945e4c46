"""A warm probe reads the stored states while it probes, not before: the fold is the first to
need them. DynamoDB is a relay to the local AWS that answers each request late."""

from __future__ import annotations

import time

from chalicelib import wiring
from chalicelib.aws import clients
from chalicelib.monitoring.probe_run import ProbeRun
from tests.handlers.test_probe_function import monitors_yaml
from tests.support.servers import SocketServer, hang, relay_late

TIMEOUT = 2.0  # the hanging monitor's: every cycle lasts about this long
DELAY = 1.5  # each DynamoDB request's


def test_a_warm_invocation_reads_the_states_while_it_probes(deploy, httpserver, local_aws, monkeypatch):
    # "flip" answers twice, then fails: its DOWN is folded from a state read beside the probes.
    for _ in range(2):
        httpserver.expect_oneshot_request("/flip").respond_with_json({"status": "ok"})
    httpserver.expect_request("/flip").respond_with_json({"status": "error"}, status=500)
    hanging = SocketServer(hang)
    urls = {"hang": f"http://127.0.0.1:{hanging.port}/healthz", "flip": httpserver.url_for("/flip")}
    deployment = deploy(monitors_yaml(urls).replace("timeout: 500ms", f"timeout: {TIMEOUT}s"))
    slow = SocketServer(relay_late(local_aws.port, DELAY))
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{slow.port}")
        clients.reset()
        run = ProbeRun(wiring.config(), wiring.probe_engine(), wiring.state_store(), None)
        cold = run.invoke(time.monotonic() + 30)  # no timings yet: the states are read first
        began = time.monotonic()
        steady = run.invoke(time.monotonic() + 30)  # nothing changes: the read is its one request
        took = time.monotonic() - began
        warm = run.invoke(time.monotonic() + 30)
    finally:
        slow.stop()
        hanging.stop()
    assert cold["transitions"] == ["hang: UNKNOWN -> DOWN", "flip: UNKNOWN -> UP"]
    assert (steady["transitions"], steady["errors"]) == ([], [])
    # One after the other, the read's DELAY and the cycle's TIMEOUT; side by side, the longer.
    assert took < TIMEOUT + DELAY / 2, f"{took:.2f}s"
    assert (warm["transitions"], warm["errors"]) == (["flip: UP -> DOWN"], [])
    assert [m["AlarmName"] for m in deployment.alarms_published()] == [
        "autoheal-probe-hang",
        "autoheal-probe-flip",
    ]
