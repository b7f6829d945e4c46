"""autoheal's Lambda functions. Wiring only: every decorator hands its event to chalicelib."""

import time

from chalice import Chalice, Rate

from chalicelib import wiring
from chalicelib.alarms.envelope import LenientSNSEvent
from chalicelib.subscriptions import route

app = Chalice(app_name="autoheal")
config = wiring.config()  # validated at cold start: a bad file fails here with every error listed


def deadline(event) -> float:
    """The Lambda's deadline on the monotonic clock."""
    context = event.context
    remaining = context.get_remaining_time_in_millis() if context is not None else 60_000
    return time.monotonic() + remaining / 1000


@app.schedule(Rate(1, unit=Rate.MINUTES), name="probe")
@wiring.counts_errors("probe")
def probe(event):
    if (request := wiring.confirmation(event.to_dict())) is not None:  # another region asks
        return wiring.vantage_confirm(request, deadline(event))
    return wiring.probe_run().invoke(deadline(event))


@app.on_sqs_message(
    queue=wiring.probe_queue(), batch_size=1, maximum_concurrency=wiring.PROBE_WORKERS, name="probe_worker"
)
@wiring.counts_errors("probe_worker")
def probe_worker(event):
    return wiring.probe_worker().handle(event.to_dict()["Records"], deadline(event))


@app.on_sns_message(topic=config.settings.alarm_topic, name="on_alarm")
@wiring.counts_errors("on_alarm")
def on_alarm(event):
    return wiring.alarm_intake(event.context).take(event.to_dict(), deadline(event))


# Chalice would read the SNS fields before on_alarm runs and raise on an event of another shape;
# this lets every event reach the parser, which logs and drops what is malformed.
on_alarm.event_class = LenientSNSEvent


@app.schedule(Rate(1, unit=Rate.MINUTES), name="follow_up")
@wiring.counts_errors("follow_up")
def follow_up(event):
    return wiring.follow_up().invoke(deadline(event))


@app.lambda_function(name="maintenance")
@wiring.counts_errors("maintenance")
def maintenance(event, context):
    return wiring.maintenance_function().handle(event)


@app.lambda_function(name="shift_traffic")
@wiring.counts_errors("shift_traffic")
def shift_traffic(event, context):
    return wiring.shift_traffic().invoke(event)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="advance")
@wiring.counts_errors("advance")
def advance(event):
    return wiring.advance().invoke()


# POST /subscribe, the status page's form: Chalice serves every route from its api_handler function.
route.register(app, wiring.subscriptions, wiring.counts_errors("api_handler"))
