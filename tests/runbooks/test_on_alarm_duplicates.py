"""SNS delivers at least once: one message delivered five times acts once (Powertools
Idempotency on the MessageId, kept in the moto DynamoDB table)."""

from __future__ import annotations

import threading

DELIVERIES = 5


def test_same_message_delivered_five_times_in_a_row_acts_once(world):
    event = world.event("alarm-metric-alarm")
    results = [world.on_alarm(event) for _ in range(DELIVERIES)]

    assert len(world.commands()) == 1
    assert world.kinds() == ["action", "opened", "recovered"]  # told once, not five times
    # Redeliveries get the first delivery's answer back, command id and all.
    assert all(r == results[0] for r in results)
    assert results[0]["handled"][0]["commands"] == [world.commands()[0]["CommandId"]]


def test_same_message_delivered_five_times_at_once_acts_once(world):
    world.health.hang = 0.5  # the first delivery is still verifying while the others arrive
    event = world.event("alarm-metric-alarm")
    start = threading.Barrier(DELIVERIES)
    results, errors = [], []

    def deliver() -> None:
        start.wait()
        try:
            results.append(world.on_alarm(event))
        except Exception as exc:  # noqa: BLE001 - a raise would make Lambda retry: a failure here
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == [] and len(results) == DELIVERIES
    assert len(world.commands()) == 1
    assert world.kinds() == ["action", "opened", "recovered"]
    handled = [r["handled"][0] for r in results]
    assert all("error" not in h for h in handled)
    acted = [h for h in handled if h.get("commands")]
    assert acted and all(h["commands"] == acted[0]["commands"] for h in acted)


def test_the_same_state_change_under_a_new_message_id_acts_once(world):
    """What the probe does when it died after SNS took a transition but before it recorded that:
    it publishes the same state change again, under a new MessageId."""
    world.on_alarm(world.event("alarm-metric-alarm", "first-delivery"))
    world.on_alarm(world.event("alarm-metric-alarm", "republished"))
    assert len(world.commands()) == 1


def test_a_new_state_change_of_the_same_alarm_is_a_new_delivery(world):
    world.on_alarm(world.event("alarm-metric-alarm", "first-delivery"))
    later = world.event("alarm-metric-alarm", "second-alarm", StateChangeTime="2024-05-01T22:03:04.512+0000")
    world.on_alarm(later)
    assert len(world.commands()) == 2  # healed in between: a new ALARM is a new incident
