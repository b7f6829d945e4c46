"""Incidents: what an alarm opens, joins or closes (`alarm`), what `follow_up` carries on
(`follow_up`, `scheduled_runs`), and the daily digest of them (`digest`). Services only: the
Lambda adapters are in `chalicelib.handlers`, and `chalicelib.wiring` builds and injects them."""
