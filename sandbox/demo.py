"""`make demo`: the whole loop in the local world, with a timeline.

Scenario 1, a hang: all healthy; blue hangs; the probe sees DOWN; on_alarm restarts blue
through SSM; verify sees it healthy; people hear "recovered". Prints the MTTR.
Scenario 2, an app that never recovers: restarts do not help; each run escalates; a memory
alarm that flaps (ALARM, then OK) opens an incident each time, and their runs meet the runbook's
budget, which stops the restarts and escalates once.
Scenario 3, blue and green both down: the front door sends users to the maintenance page; when
the instances recover, the front door serves the app again by itself. Prints how long after both
health endpoints answered users were back on the app.
Scenarios 4 and 5, blue/green on the front door (`sandbox.demo_canary`): a canary that
completes, and a canary to a green that breaks and is rolled back by `on_alarm`.
Scenario 6, one vantage point blind for 5 minutes (`sandbox.vantage_world`): no restart, no page.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable, Optional, TextIO
from urllib.parse import urlsplit

from chalicelib.alarms.message import cloudwatch_time
from chalicelib.aws.clients import client
from chalicelib.runbooks.incident import ESCALATED, RESOLVED, STOPPED
from chalicelib.runbooks.incident_store import IncidentStore
from chalicelib.state.store import StateStore
from sandbox import demo_canary
from sandbox.world import World

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "chalicelib" / "configs" / "demo.yaml"
MEMORY_ALARM = ROOT / "events" / "alarm-metric-alarm.json"
MEMORY_OK = ROOT / "events" / "alarm-metric-ok.json"
WEB_INCIDENT = "restart-web/*"  # the probe names no instance: the runbook's whole tier
WAIT_LIMIT = 40.0


class Timeline:
    """Prints "+12.3s  what happened" on the real console, whatever the functions log."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.monotonic()

    def say(self, text: str) -> float:
        elapsed = time.monotonic() - self.started
        print(f"{elapsed:+7.1f}s  {text}", file=self.out, flush=True)
        return elapsed


def wait_for(what: str, condition: Callable[[], object], limit: float = WAIT_LIMIT) -> object:
    ends = time.monotonic() + limit
    while time.monotonic() < ends:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"gave up waiting for: {what}")


class Watchers:
    """Follows, in the background, what people receive and what the stand-in SSM agent does."""

    def __init__(self, world: World, timeline: Timeline) -> None:
        self.world, self.timeline = world, timeline
        self.people: list[str] = []  # e-mail subjects
        self.sms: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.seen_agent = 0

    def run(self) -> None:
        resources = self.world.resources
        while not self.stopping.is_set():
            for envelope in self.receive(resources.notify_queue_url, wait=1):
                self.people.append(envelope.get("Subject") or "")
                self.timeline.say(f"people notified: {envelope.get('Subject')}")
            for envelope in self.receive(resources.sms_queue_url, wait=0):
                self.sms.append(envelope.get("Message") or "")
                self.timeline.say(f"sms to people: {envelope.get('Message')}")
            for entry in self.world.agent.log[self.seen_agent :]:
                self.timeline.say(f"ssm agent on {entry.instance}: {entry.action} -> {entry.result}")
            self.seen_agent = len(self.world.agent.log)

    @staticmethod
    def receive(queue: str, wait: int) -> list[dict]:
        """What a person's subscription (by its queue) received since the last call."""
        sqs, found = client("sqs"), []
        with contextlib.suppress(Exception):
            for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=wait).get("Messages", []):
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return found


def monitor_status(table: str, name: str) -> Optional[str]:
    state = StateStore(table).load().get(name)
    return state.status if state else None


def incident(table: str, key: str):
    return IncidentStore(table).get(key)


def publish_memory_alarm(topic_arn: str, instance_id: str, sample: Path = MEMORY_ALARM) -> None:
    """What CloudWatch sends when a blue instance's memory alarm fires (or clears): it names the
    instance."""
    record = json.loads(sample.read_text())["Records"][0]["Sns"]
    body = json.loads(record["Message"])
    body["StateChangeTime"] = cloudwatch_time(datetime.now(UTC))
    for dimension in body["Trigger"]["Dimensions"]:
        if dimension["name"] == "InstanceId":
            dimension["value"] = instance_id
    client("sns").publish(
        TopicArn=topic_arn, Subject=record.get("Subject") or "ALARM", Message=json.dumps(body)
    )


def commands_sent() -> int:
    return len(client("ssm").list_commands()["Commands"])


def pm2_says(world: World, name: str) -> str:
    """PM2's own view of an instance's app (its daemon on the instance's host)."""
    state = world.fleet.pm2_state(name) if world.fleet and world.fleet.instance(name).host else None
    if state is None:
        return f"{name} runs without PM2 here"
    return f"PM2 on {name}: web pid {state['pid']}, {state['restarts']} restarts, {state['status']}"


def scenario_hang(world: World, timeline: Timeline, table: str) -> float:
    timeline.say("scenario 1: blue hangs")
    timeline.say(pm2_says(world, "blue-1"))
    world.fleet.fault("blue-1", "hang")
    hung_at = timeline.say("blue-1 stops answering (hang)")
    wait_for("web DOWN", lambda: monitor_status(table, "web") == "DOWN")
    timeline.say("probe: web is DOWN -> alarm published")
    healed = wait_for(
        "web healed", lambda: (i := incident(table, WEB_INCIDENT)) and i.status == RESOLVED and i
    )
    verified = next((line for line in reversed(healed.story) if "verified" in line), healed.story[-1])
    verified_at = timeline.say(f"on_alarm: {verified[9:]}")
    wait_for("web UP", lambda: monitor_status(table, "web") == "UP")
    timeline.say("probe: web is UP again")
    timeline.say(pm2_says(world, "blue-1"))
    mttr = verified_at - hung_at
    timeline.say(f"MTTR {mttr:.1f}s (hang -> verified UP)")
    return mttr


def scenario_never_recovers(world: World, timeline: Timeline, table: str) -> int:
    timeline.say("scenario 2: blue fails and a restart does not help")
    before = commands_sent()
    world.fleet.fault("blue-1", "error", sticky=True)
    wait_for("web DOWN", lambda: monitor_status(table, "web") == "DOWN")
    timeline.say("probe: web is DOWN -> alarm published")
    wait_for(
        "web escalated",
        lambda: (i := incident(table, WEB_INCIDENT)) and i.run and i.run.state == ESCALATED,
    )
    timeline.say("on_alarm: restart did not help; escalated to people")
    blue_2 = world.instance_ids["blue-2"]
    key = f"restart-web/{blue_2}"  # the alarm names blue-2: an incident of its own
    for attempt in range(1, 4):
        since = time.time() - 1
        publish_memory_alarm(world.resources.alarm_topic_arn, blue_2)
        timeline.say(
            f"CloudWatch: web-blue-memory-high ALARM (#{attempt}), naming blue-2: blue-2 alone is acted on"
        )
        handled = wait_for(
            "the alarm handled",
            lambda since=since: (
                (i := incident(table, key))
                and i.opened_at >= since
                and i.run
                and i.run.state in (ESCALATED, STOPPED)
                and i
            ),
        )
        outcome = (
            "refused by the budget" if handled.run.state == STOPPED else "restart, verify failed, escalated"
        )
        timeline.say(f"on_alarm: {outcome}")
        time.sleep(1.1)  # CloudWatch's StateChangeTime has millisecond precision; keep them apart
        publish_memory_alarm(world.resources.alarm_topic_arn, blue_2, MEMORY_OK)
        wait_for("the alarm cleared", lambda: (i := incident(table, key)) and i.status == RESOLVED)
        timeline.say("CloudWatch: web-blue-memory-high OK: its incident closes")
    sent = commands_sent() - before
    timeline.say(
        f"SSM commands sent in scenario 2: {sent} (the tier one instance at a time, then blue-2 alone"
        " until its budget of 3 runs per 30m is spent)"
    )
    return sent


def scenarios_blue_green(world: World, timeline: Timeline, table: str) -> demo_canary.BrokenOutcome:
    assert world.fleet is not None
    world.fleet.fault("blue-1", "none", sticky=True)  # a person fixed blue-1 after scenario 2
    wait_for("web UP", lambda: monitor_status(table, "web") == "UP")
    timeline.say("blue-1 fixed by hand; probe: web is UP")
    demo_canary.scenario_canary(world, timeline.say)
    demo_canary.back_to_blue(world, timeline.say)
    broken = demo_canary.scenario_broken_canary(world, timeline.say)
    timeline.say(
        f"broken v2 served {broken.served} requests ({broken.share:.1%} of the scenario's, "
        f"{broken.errors} errors); rolled back {broken.to_rollback:.1f}s after it failed; "
        f"last request it served {broken.to_last_request:.1f}s after it failed "
        f"({broken.pinned} sticky clients were on it)"
    )
    return broken


def door_get(base: str, path: str) -> tuple[int, str]:
    """(status, Location) of one GET through the front door, redirects not followed."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
    try:
        connection.request("GET", path, headers={"Cache-Control": "no-store"})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Location") or ""
    except OSError:
        return 0, ""
    finally:
        connection.close()


def scenario_both_down(world: World, timeline: Timeline, door: str) -> float:
    timeline.say("scenario 3: blue and green both down")
    for name in world.fleet.names:
        world.fleet.fault(name, "error", sticky=True)
    timeline.say("blue-1, blue-2 and green-1 answer 500")
    wait_for("the maintenance page", lambda: "maintenance.html" in door_get(door, "/")[1])
    timeline.say(f"front door: / -> {door_get(door, '/')[1]} (users see the maintenance page)")
    for name in world.fleet.names:
        world.fleet.fault(name, "none")
    timeline.say("the instances recover")
    wait_for(
        "both health endpoints",
        lambda: door_get(door, "/healthz")[0] == 200 and door_get(door, "/api/healthz")[0] == 200,
        limit=20,
    )
    answered = timeline.say("front door: /healthz and /api/healthz answer 200")
    wait_for("the app", lambda: door_get(door, "/")[0] == 200, limit=60)
    back = timeline.say("front door: / is the app again (listener restored)") - answered
    timeline.say(f"users back on the app {back:.1f}s after both health endpoints answered")
    return back


def scenario_region_blind(world: World, timeline: Timeline, watchers: Watchers) -> tuple[int, int]:
    """Scenario 6: three vantage points (quorum 2); us-east-1 cannot reach blue-1 for 5 minutes,
    a tick of each region a minute (compressed: a minute is a round of ticks). Returns the SSM
    commands sent and the people told meanwhile: both 0."""
    from sandbox.vantage_world import vantage_demo

    timeline.say("scenario 6: one region blind for 5 minutes (3 vantage points, quorum 2)")
    commands, people = commands_sent(), len(watchers.people)
    with vantage_demo(world.config, "web") as regions:
        timeline.say("each region's first look: " + regions.settled())
        regions.blind("us-east-1")
        timeline.say("us-east-1's road to blue-1 is blackholed")
        for minute in range(1, 6):
            timeline.say(f"minute {minute}: " + regions.round())
        regions.heal("us-east-1")
        timeline.say("us-east-1 sees again: " + regions.settled())
    time.sleep(1.5)  # anything published would have reached on_alarm and people by now
    sent, told = commands_sent() - commands, len(watchers.people) - people
    timeline.say(f"one region blind for 5 minutes: {sent} restarts, {told} people told")
    return sent, told


def main() -> int:
    console = sys.stdout
    timeline = Timeline(console)
    log = tempfile.NamedTemporaryFile("w", prefix="autoheal-demo-", suffix=".log", delete=False)  # noqa: SIM115 - kept for the reader
    timeline.say(f"starting the local world (function logs go to {log.name})")
    # Function output goes to the log for the rest of the run: an invocation still winding down
    # after the world stops must not write into the timeline.
    sys.stdout = log
    with World(str(CONFIG)) as world:
        table = world.config.settings.state_table
        watchers = Watchers(world, timeline)
        watchers.thread.start()
        world.runtime.start()
        wait_for("all UP", lambda: all(monitor_status(table, m.name) == "UP" for m in world.config.monitors))
        timeline.say("all monitors UP: " + ", ".join(m.name for m in world.config.monitors))
        urls = world.urls()
        door = urls["web-alb:80"]
        timeline.say(f"app: {door}/  status page: {urls['status site']}/index.html")
        mttr = scenario_hang(world, timeline, table)
        sent = scenario_never_recovers(world, timeline, table)
        back = scenario_both_down(world, timeline, door)
        broken = scenarios_blue_green(world, timeline, table)
        blind = scenario_region_blind(world, timeline, watchers)
        time.sleep(1.5)  # the last notifications reach the queue
        watchers.stopping.set()
        watchers.thread.join(3)
        timeline.say(f"chat messages posted: {len(world.chat.messages)}")
        for message in world.chat.messages:
            print("          chat | " + str(message.get("text", "")).splitlines()[0], file=console)
    timeline.say(
        f"done: MTTR {mttr:.1f}s with probe every 1s, failure_threshold 2; "
        f"{sent} restarts for an app that never recovers; back on the app {back:.1f}s after recovery; "
        f"{len(watchers.people)} e-mails and {len(watchers.sms)} SMS to people; "
        f"a broken canary served {broken.share:.1%} of requests, its last {broken.to_last_request:.1f}s "
        "after it failed; "
        f"one region blind for 5 minutes: {blind[0]} restarts, {blind[1]} pages"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
