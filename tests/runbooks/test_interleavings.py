"""A hypothesis state machine over what the night throws at the recovery loop: ALARM and OK
deliveries, duplicates and out-of-order copies, the Lambda dying after any AWS call, the app
breaking and recovering, time passing, and follow_up ticks, over three instances.

It holds, at every SendCommand: the run sending it holds an unexpired lease on every target (no
two runs act on one target at once), acts on one target at a time, and never on an instance no
ALARM named (for the runbook an instance's alarm routes to). At every handled ALARM: the signal
is in an incident (it acted, joined one, or was refused with people told). At the end, once the
app is healthy, time has passed and every signal is OK: every incident is resolved and no lease
is held.

AWS is moto in server mode; the app's health endpoint is a real local server; time is a fake
clock that the engine, leases and budget all read (the probe still uses real sockets).
"""

from __future__ import annotations

import itertools
import json
import os
from datetime import UTC, datetime
from typing import Any, Optional

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from chalicelib.alarms.ledger import AlarmLedger
from chalicelib.alarms.parse import parse_sns_event
from chalicelib.aws import dynamodb
from chalicelib.aws.clients import client, mutating_client, table
from chalicelib.incidents.alarm import AlarmHandler, claim
from chalicelib.incidents.follow_up import FollowUp
from chalicelib.runbooks.incident import RESOLVED, Incident
from chalicelib.runbooks.incident_store import IncidentStore

from .conftest import FakeClock, World, base_config


class LambdaDied(BaseException):
    """The invocation ends here: no `except Exception` sees it, as none would see a real death."""


# Three signals: one memory alarm per blue instance (restart-web, that instance alone), and a
# fleet alarm naming no instance (restart-fleet, the whole tier, one instance at a time).
SIGNALS = ("mem-blue-1", "mem-blue-2", "fleet")
READS = ("Get", "Describe", "List", "Query", "Scan")


class Interleavings(RuleBasedStateMachine):
    world: World  # set by the test before the machine runs
    seen: list[tuple[int, int, int]] = []  # per example: commands sent, deaths, incidents

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(start=1_900_000_000.0)
        self.ids = itertools.count()
        self.delivered: list[dict[str, Any]] = []  # every event delivered, for copies
        self.named: set[str] = set()  # instances an ALARM named
        self.crash_in: Optional[int] = None
        self.hooks: list[tuple[Any, str, Any]] = []
        self.sends: list[list[str]] = []
        self.violations: list[str] = []
        self.deaths = 0

    # -- the world's wiring ----------------------------------------------------------------------
    @initialize()
    def start(self) -> None:
        world = self.world
        world.aws.reset()
        from sandbox.provision import provision

        provision(world.config)
        world.instances = {**world.instances, **self.relaunch()}
        world.health.status = 200
        clients = [client("ssm"), client("sns"), client("ec2"), mutating_client("ssm")]
        clients.append(table(world.config.settings.state_table).meta.client)
        for c in clients:
            self.hook(c, "after-call", self.maybe_die)
        self.hook(mutating_client("ssm"), "before-parameter-build.ssm.SendCommand", self.check_send)

    def relaunch(self) -> dict[str, str]:
        from .conftest import register_instances

        return register_instances()

    def hook(self, c: Any, event: str, handler: Any) -> None:
        c.meta.events.register(event, handler)
        self.hooks.append((c, event, handler))

    def teardown(self) -> None:
        try:
            self.drain()
        finally:
            for c, event, handler in self.hooks:
                c.meta.events.unregister(event, handler)

    def maybe_die(self, event_name: str, **_: Any) -> None:
        # Counted on calls that change something: how many reads a wait makes depends on real
        # timing, and a death after a read is a death before the next write anyway.
        if self.crash_in is None or event_name.rsplit(".", 1)[-1].startswith(READS):
            return
        self.crash_in -= 1
        if self.crash_in <= 0:
            self.crash_in = None
            self.deaths += 1
            raise LambdaDied()

    # -- invariants at the moment of acting -----------------------------------------------------
    def check_send(self, params: dict[str, Any], **_: Any) -> None:
        """Noted, not raised: the engine would catch an exception from here as a failed step."""
        targets = list(params["InstanceIds"])
        incident_key = params["Comment"].split(" ", 2)[2]
        self.sends.append(targets)
        if len(targets) != 1:
            self.violations.append(f"more than one target at once: {targets}")
        for target in targets:
            lease = dynamodb.get(self.world.config.settings.state_table, "lease", target)
            if lease is None:
                self.violations.append(f"{target}: acted on without a lease")
            elif not lease["owner"].startswith(f"{incident_key}@"):
                self.violations.append(f"{target}: {incident_key} acted, {lease['owner']} holds the lease")
            elif lease["expires_at"] <= self.clock.now():
                self.violations.append(f"{target}: acted on with an expired lease")
            if params["Parameters"]["service"] == ["web"] and target not in self.named:
                self.violations.append(f"{target}: restart-web acted on it, no ALARM named it")

    # -- what arrives ---------------------------------------------------------------------------
    def event_for(self, signal: str, state: str) -> dict[str, Any]:
        at = datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        if signal == "fleet":
            trigger_dims = [{"value": "web", "name": "Service"}]
            name = "web-service-down"
        else:
            instance = self.world.instances[signal[4:]]
            trigger_dims = [{"value": instance, "name": "InstanceId"}]
            name = f"web-{signal[4:]}-memory-high"
        event = self.world.event("alarm-metric-alarm", message_id=f"m-{next(self.ids)}")
        body = json.loads(event["Records"][0]["Sns"]["Message"])
        body.update(AlarmName=name, NewStateValue=state, StateChangeTime=at)
        body["Trigger"]["Dimensions"] = trigger_dims
        event["Records"][0]["Sns"]["Message"] = json.dumps(body)
        return event

    def desk(self, kind: type) -> Any:
        name = self.world.config.settings.state_table
        engine = self.world.engine(self.clock.clock)
        store, ledger = IncidentStore(name), AlarmLedger(name)
        return kind(self.world.config, store, engine, clock=self.clock.now, ledger=ledger)

    def handle(self, event: dict[str, Any], crash_after: Optional[int]) -> None:
        alarms, dropped = parse_sns_event(event, self.world.config.settings.metrics_namespace)
        assert alarms and not dropped, dropped
        self.crash_in = crash_after
        for alarm in alarms:
            runbook, reason = claim(alarm, self.world.config)
            assert reason is None, reason
            if alarm.state == "ALARM" and "InstanceId" in alarm.dimensions:
                self.named.add(alarm.dimensions["InstanceId"])
            try:
                self.desk(AlarmHandler).handle(alarm, runbook, self.clock.monotonic() + 60)
            except LambdaDied:
                return  # SNS/Lambda deliver it again later: the copies rule does that
            finally:
                self.crash_in = None
            if alarm.state == "ALARM":
                assert self.incident_with(alarm.name) is not None, f"{alarm.name}: ALARM lost"

    def incident_with(self, signal: str) -> Optional[Incident]:
        items = dynamodb.query(self.world.config.settings.state_table, "incident")
        found = [Incident.from_item(i) for i in items]
        return next((i for i in found if signal in i.signals), None)

    # -- rules ----------------------------------------------------------------------------------
    @rule(
        signal=st.sampled_from(SIGNALS),
        state=st.sampled_from(["ALARM", "ALARM", "OK"]),
        crash_after=st.none() | st.integers(1, 6),
    )
    def deliver(self, signal: str, state: str, crash_after: Optional[int]) -> None:
        event = self.event_for(signal, state)
        self.delivered.append(event)
        self.clock.sleep(1)
        self.handle(event, crash_after)

    @rule(data=st.data(), crash_after=st.none() | st.integers(1, 6))
    def deliver_a_copy(self, data: st.DataObject, crash_after: Optional[int]) -> None:
        """SNS delivers twice, late and out of order: any earlier event again."""
        if not self.delivered:
            return
        event = data.draw(st.sampled_from(self.delivered))
        self.clock.sleep(1)
        self.handle(event, crash_after)

    @rule(crash_after=st.none() | st.integers(1, 8))
    def follow_up(self, crash_after: Optional[int]) -> None:
        self.crash_in = crash_after
        try:
            self.desk(FollowUp).invoke(self.clock.monotonic() + 60)
        except LambdaDied:
            pass
        finally:
            self.crash_in = None

    @rule(healthy=st.booleans())
    def app(self, healthy: bool) -> None:
        self.world.health.status = 200 if healthy else 503

    @rule(seconds=st.sampled_from([5, 60, 200]))
    def time_passes(self, seconds: int) -> None:
        self.clock.sleep(seconds)

    @invariant()
    def every_command_was_sent_under_its_own_lease_to_what_was_named(self) -> None:
        assert self.violations == []

    # -- the end --------------------------------------------------------------------------------
    def drain(self) -> None:
        """The app recovers, every signal goes OK, time passes: everything must end."""
        self.world.health.status = 200
        self.clock.sleep(200)  # past the stale-run limit and every lease's TTL
        for _ in range(2):
            self.follow_up(None)
        for signal in SIGNALS:
            event = self.event_for(signal, "OK")
            self.clock.sleep(1)
            self.handle(event, None)
        self.clock.sleep(200)
        self.follow_up(None)
        table_name = self.world.config.settings.state_table
        incidents = [Incident.from_item(i) for i in dynamodb.query(table_name, "incident")]
        stuck = [(i.key, i.status, i.run.state if i.run else None, i.story[-3:]) for i in incidents]
        assert all(i.status == RESOLVED for i in incidents), stuck
        leases = [i for i in dynamodb.query(table_name, "lease") if i["expires_at"] > self.clock.now()]
        assert leases == [], leases
        Interleavings.seen.append((len(self.sends), self.deaths, len(incidents)))


def fleet_config(health_url: str) -> dict[str, Any]:
    config = base_config(health_url)
    config["alarms"] = [
        {"match": "web-*-memory-high", "runbook": "restart-web"},
        {"match": "web-service-*", "runbook": "restart-fleet"},
    ]
    config["runbooks"]["restart-web"]["budget"] = {"max_runs": 2, "per": "30m"}
    return config


def test_no_interleaving_acts_twice_on_a_target_or_outside_its_signal_or_leaves_an_incident_open(
    make_world, health
):
    Interleavings.world = make_world(fleet_config(health.url))
    run = settings(
        max_examples=int(os.environ.get("INTERLEAVINGS", "12")),
        stateful_step_count=12,
        deadline=None,
        derandomize="INTERLEAVINGS" not in os.environ,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )(Interleavings).TestCase
    run().runTest()
    commands, deaths, incidents = (sum(x) for x in zip(*Interleavings.seen, strict=True))
    # The machine must have exercised what it claims to: actions, deaths and incidents.
    print("interleavings: commands, deaths, incidents =", commands, deaths, incidents)
    assert commands > 0 and deaths > 0 and incidents > 0, Interleavings.seen
