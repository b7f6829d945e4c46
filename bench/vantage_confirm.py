"""Detection to the first SendCommand with confirmation by a quorum of vantage points.

    python bench/vantage_confirm.py [--trials 30] [--timeout 2]

The local world on 127.0.0.1: moto as AWS (the home region's table and topics, and a table per
region), the app (a local HTTP server), three vantage points (`sandbox.vantage_world`: a probe per
region behind its own fault proxy, asynchronous invokes through a local Lambda Invoke API routed
by the request's signed region) and the real `on_alarm` function. Probing at a 60 s interval
(windows of 60 s); each trial: all regions see the app UP; the app hangs; one region's tick
turns it DOWN (detection: the fold's time, saved with its state), asks the others, they confirm,
the quorum's alarm is published; on_alarm gets it from the alarm topic's queue and restarts
through SSM (the command's RequestedDateTime). The app then answers again, the quorum records the
recovery, and on_alarm resolves the incident. Prints each trial and p50, p99 and max.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.loopback import Quiet, serve, url_of  # noqa: E402 - after the path that finds it

SETTINGS = """settings:
  state_table: autoheal-state
  alarm_topic: autoheal-alarms
  notify_topic: autoheal-notify
  status_bucket: autoheal-status
  group_wait: 0
  vantage_points: [us-east-1, eu-west-1, ap-northeast-2]
  vantage_self_check: {check}
"""
# The runbook the web monitor's outage runs: a restart through SSM, verified, then escalated.
RESTART_WEB = """runbooks:
  restart-web:
    targets: {tag: {app: web}}
    budget: {max_runs: 1000, per: 30m}
    steps:
      - restart: {service: web, manager: pm2, user: ec2-user}
      - verify: {monitors: [web], within: 5s}
      - escalate: {}
"""


def web_monitor(url: str, timeout: float) -> str:
    """The `web` monitor whose outage the vantage benches time to the first SendCommand."""
    return (
        f"  - name: web\n    url: {url}\n    timeout: {timeout}s\n    retries: 0\n"
        "    failure_threshold: 1\n    success_threshold: 1\n    runbook: restart-web\n"
    )


def config_text(app: str, check: str, timeout: float) -> str:
    return SETTINGS.format(check=check) + "monitors:\n" + web_monitor(f"{app}/healthz", timeout) + RESTART_WEB


class App:
    """The app: 200 {"status": "ok"}, or silence while `hung`."""

    def __init__(self) -> None:
        self.hung = threading.Event()
        outer = self

        class Handler(Quiet):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                while outer.hung.is_set():
                    time.sleep(0.05)
                body = b'{"status": "ok"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = serve(Handler)
        self.url = url_of(self.server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=2.0, help="the monitor's timeout, seconds")
    args = parser.parse_args()

    from chalice.local import LambdaContext

    from chalicelib import wiring
    from chalicelib.aws.clients import client
    from chalicelib.state.store import StateStore
    from chalicelib.vantage import regional
    from sandbox.fleet import launch_instances
    from sandbox.moto_server import MotoServer
    from sandbox.provision import provision
    from sandbox.runtime import drain_envelopes, sns_event
    from sandbox.vantage_world import REGIONS, InvokeApi, KnownGood, make_region
    from sandbox.world import load_app

    console = sys.stdout
    # The functions' JSON logs go to a file: the console shows the trials alone.
    log = tempfile.NamedTemporaryFile("w", prefix="autoheal-bench-", suffix=".log", delete=False)  # noqa: SIM115
    sys.stdout = log
    print(f"function logs: {log.name}", file=console)
    app, known, api = App(), KnownGood(), InvokeApi()
    with MotoServer() as moto, tempfile.TemporaryDirectory() as tmp:
        moto.apply_env()
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = api.url
        path = Path(tmp) / "autoheal.yaml"
        path.write_text(config_text(app.url, known.url, args.timeout))
        os.environ["AUTOHEAL_CONFIG"] = str(path)
        wiring.reset()
        regional.reset()
        config = wiring.config()
        resources = provision(config)
        launch_instances(client("ec2"), [("blue-1", "blue"), ("blue-2", "blue")])
        functions = load_app().app.handler_map
        regions = [make_region(name, config, app.url, known.url, api) for name in REGIONS]
        sqs, ssm = client("sqs"), client("ssm")

        def on_alarm() -> None:
            for envelope in drain_envelopes(sqs, resources.alarm_queue_url):
                functions["on_alarm"](sns_event(envelope), LambdaContext("on_alarm", 256, 60_000))

        def round_of_ticks() -> None:
            for region in regions:
                region.tick()
            api.settle()
            on_alarm()

        round_of_ticks()
        latencies = []
        for trial in range(1, args.trials + 1):
            commands = len(ssm.list_commands()["Commands"])
            app.hung.set()
            detector = regions[trial % len(regions)]  # each region detects in turn
            summary = detector.tick()
            detected = StateStore(detector.run.config.settings.state_table).load()["web"].since
            api.settle()  # the others confirm; the quorum's vote publishes
            app.hung.clear()  # the restart "works": verify sees it healthy
            on_alarm()
            sent = ssm.list_commands()["Commands"][commands:]
            if not sent:
                print(f"trial {trial}: no SendCommand: {json.dumps(summary.get('vantage'))}", file=console)
                print(json.dumps(api.answers[-2:], default=str), file=console)
                return 1
            first = min(datetime.fromisoformat(str(c["RequestedDateTime"])).timestamp() for c in sent)
            latencies.append(first - detected)
            print(
                f"trial {trial:2d}: detected by {detector.name}, SendCommand {first - detected:.3f}s later",
                file=console,
            )
            round_of_ticks()  # every region sees it UP again: the quorum's recovery, then on_alarm's
        api.close()
        known.server.shutdown()
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    print(
        file=console,
    )
    print(
        f"detection -> first SendCommand, {len(ordered)} trials, timeout {args.timeout:g}s, 60 s windows: "
        f"p50 {statistics.median(ordered):.3f}s, p99 {p99:.3f}s, max {ordered[-1]:.3f}s",
        file=console,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
