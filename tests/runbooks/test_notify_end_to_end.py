"""What people receive for an incident, end to end: SNS event in, runbook, notify topic, an SQS
subscriber out. The topic gets MessageStructure=json; a subscriber receives the "default" text."""

from __future__ import annotations

from chalicelib import wiring
from chalicelib.incidents.alarm import AlarmHandler, handle_sns_event
from chalicelib.notify.format import SMS_LIMIT, email_subject, email_text, sms_text

# Long, unicode, markup and shell: the worst an alarm can carry into a notice.
NAME = ("web-" + "Ünïcødé 日本語 🔥 <b>&amp; $(reboot) `id` " * 12)[:240] + "-memory-high"
REASON = "Threshold Crossed: " + "96.2 ✓ <script>alert(1)</script>\n\t" * 3000


def run_incident(world, **changes):
    notices = []
    handler = AlarmHandler(world.config, world.store(), world.engine(wiring.engine_clock(), notices))
    event = world.event("alarm-metric-alarm", **changes)
    out = handle_sns_event(event, world.config, lambda alarm, rb: handler.handle(alarm, rb, 10**12))
    assert out["dropped"] == [] and "error" not in out["handled"][0]
    return notices, world.published()


def check_formats(notices, published):
    assert len(published) == len(notices) > 0
    expected = sorted((email_subject(n), email_text(n)) for n in notices)
    assert sorted((m["Subject"], m["Message"]) for m in published) == expected
    for message in published:
        assert len(message["Subject"]) <= 100 and message["Subject"].isascii()
        assert "\n" not in message["Subject"]
        # The subscriber got the "default" entry: had the notifier published without
        # MessageStructure=json, it would have received the {"default": ..., "sms": ...} object.
        assert not message["Message"].lstrip().startswith("{")
        assert message["Message"].endswith("-- autoheal")
    for notice in notices:
        text = sms_text(notice)
        assert len(text) <= SMS_LIMIT and "\n" not in text and text.startswith("autoheal: ")


def test_a_healed_incident_tells_people_in_every_format(world):
    notices, published = run_incident(world)
    assert [n.kind for n in notices] == ["opened", "action", "recovered"]
    check_formats(notices, published)
    recovered = notices[-1]
    assert "(down " in sms_text(recovered)  # the downtime survives in the SMS line
    assert "Downtime:" in [m for m in published if m["kind"] == "recovered"][0]["Message"]


def test_hostile_long_alarm_text_stays_within_every_limit(world):
    world.health.status = 500
    notices, published = run_incident(world, AlarmName=NAME, NewStateReason=REASON)
    assert [n.kind for n in notices] == ["opened", "action", "escalated"]
    check_formats(notices, published)
    for message in published:
        assert len(message["Message"]) <= 2 * 20_000  # far below SNS's 256 KiB
        assert "日本語 🔥" in message["Message"]  # unicode kept in the body ...
    assert all(
        "?" in m["Subject"] for m in published if "Incident opened" in m["Message"]
    )  # ... not the subject
