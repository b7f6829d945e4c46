"""The alarm ledger against moto in server mode: newest state wins, older changes are ignored,
and the states of many alarms come back in a few batched reads."""

from __future__ import annotations

from chalicelib.alarms.ledger import AlarmLedger
from sandbox.provision import create_table

T = 1_900_000_000.0


def ledger() -> AlarmLedger:
    create_table("ledger")
    return AlarmLedger("ledger")


def test_an_older_change_is_ignored_and_the_same_change_again_is_accepted(local_aws):
    alarms = ledger()
    assert alarms.record("web-5xx", "ALARM", T, T)
    assert alarms.record("web-5xx", "OK", T + 60, T + 61)
    assert not alarms.record("web-5xx", "ALARM", T, T + 62)  # the ALARM, delivered late
    assert alarms.record("web-5xx", "OK", T + 60, T + 63)  # a retry of the same change
    assert alarms.states(["web-5xx"]) == {"web-5xx": "OK"}


def test_states_of_more_alarms_than_one_batch_holds(local_aws):
    alarms = ledger()
    names = [f"alarm-{i:03d}" for i in range(150)]
    for i, name in enumerate(names):
        alarms.record(name, "ALARM" if i % 3 else "OK", T, T)
    calls = []
    client = alarms_client()
    client.meta.events.register("before-call.dynamodb.BatchGetItem", lambda **_: calls.append(1))

    states = alarms.states([*names, "never-seen", names[0]])

    assert states == {name: "ALARM" if i % 3 else "OK" for i, name in enumerate(names)}
    assert len(calls) == 2  # 100 keys per request


def alarms_client():
    from chalicelib.aws.clients import table

    return table("ledger").meta.client


def test_only_a_change_later_than_the_one_on_record_is_new(local_aws):
    alarms = ledger()
    assert alarms.is_new("web-5xx", T)  # nothing on record
    alarms.record("web-5xx", "ALARM", T, T)
    assert not alarms.is_new("web-5xx", T)  # the same change, delivered again
    assert not alarms.is_new("web-5xx", T - 1)  # an older one, delivered late
    assert alarms.is_new("web-5xx", T + 1)
    assert alarms.is_new("web-5xx", None)  # no time to order by
