"""autoheal's Lambda functions. Wiring only: every decorator hands its event to chalicelib."""

from chalice import Chalice, Rate

from chalicelib import wiring

app = Chalice(app_name="autoheal")
config = wiring.config()  # validated at cold start: a bad file fails here with every error listed


@app.schedule(Rate(1, unit=Rate.MINUTES), name="probe")
def probe(event):
    from chalicelib.handlers.probe import ProbeRun, remaining_ms

    return ProbeRun(wiring.config(), wiring.probe_engine()).invoke(remaining_ms(app.lambda_context))
